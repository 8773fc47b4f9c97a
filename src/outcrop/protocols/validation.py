"""Bedrock-worded validation: pydantic errors become Bedrock's `Malformed input request` messages.

Bedrock validates model bodies against JSON Schema and answers in the wording of its validator
(`#/path: ...`, `#: extraneous key [x] is not permitted`, `#: N schema violations found`). We
write the same shape so that messages read the same against outcrop and against Bedrock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from outcrop.errors import MALFORMED_INPUT, ValidationException

M = TypeVar("M", bound=BaseModel)

_TYPE_NAMES = {
    str: "String", int: "Integer", float: "Number", bool: "Boolean", dict: "JSONObject", list: "JSONArray",
    type(None): "Null",
}
_EXPECTED = {
    "string_type": "String", "int_type": "Integer", "int_from_float": "Integer", "float_type": "Number",
    "bool_type": "Boolean", "dict_type": "JSONObject", "model_type": "JSONObject", "model_attributes_type": "JSONObject",
    "list_type": "JSONArray", "tuple_type": "JSONArray",
}


def malformed(detail: str) -> ValidationException:
    return ValidationException(f"Malformed input request: {detail}, please reformat your input and try again.")


def _pointer(loc: tuple[Any, ...]) -> str:
    return "#" + "".join(f"/{part}" for part in loc)


def _found(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def describe_error(error: Mapping[str, Any]) -> str:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    value: Any = error.get("input")
    # Union members add their tag to the location; Bedrock's pointer names only fields.
    # The last part of an unknown/missing-key error is the key itself (any text, `[` included), never a tag.
    key = loc[-1] if loc and kind in ("extra_forbidden", "missing") else None
    loc = tuple(p for p in (loc[:-1] if key is not None else loc) if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    if kind == "extra_forbidden":
        return f"{_pointer(loc)}: extraneous key [{key}] is not permitted"
    if kind == "missing":
        return f"{_pointer(loc)}: required key [{key}] not found"
    if kind in _EXPECTED:
        return f"{_pointer(loc)}: expected type: {_EXPECTED[kind]}, found: {_found(value)}"
    if kind in ("literal_error", "enum"):
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value
        return f"{_pointer(loc)}: {shown} is not a valid enum value"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{_pointer(loc)}: {value} is not greater or equal to {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{_pointer(loc)}: {value} is not less or equal to {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_too_long":
        return f"{_pointer(loc)}: expected maxLength: {ctx.get('max_length')}, actual: {len(value)}"
    if kind == "string_too_short":
        return f"{_pointer(loc)}: expected minLength: {ctx.get('min_length')}, actual: {len(value)}"
    if kind == "too_long":
        return f"{_pointer(loc)}: expected maximum item count: {ctx.get('max_length')}, found: {len(value)}"
    if kind == "too_short":
        return f"{_pointer(loc)}: expected minimum item count: {ctx.get('min_length')}, found: {len(value)}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{_pointer(loc)}: {message}"


def parse_body(model: type[M], body: bytes) -> M:
    """Validate a JSON body against `model` (strict types, unknown keys rejected) or raise Bedrock's error."""
    if not body or not body.strip():
        raise ValidationException(MALFORMED_INPUT)
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationException(MALFORMED_INPUT) from None
    if not isinstance(document, dict):
        raise malformed(f"#: expected type: JSONObject, found: {_found(document)}")
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if len(errors) == 1:
            raise malformed(describe_error(errors[0])) from None
        details = "; ".join(describe_error(e) for e in errors[:5])
        raise malformed(f"#: {len(errors)} schema violations found ({details})") from None
