"""Hypothesis property tests on every protocol parser: arbitrary JSON bodies, arbitrary bytes, and
arbitrary bytes posing as images. A parser may accept or raise ValidationException; anything else
(a crash, another exception type, an image over its limits) is a bug.

Generic by design: every protocol in PROTOCOL_CLASSES that offers `parse(body: bytes)` is fuzzed,
with bodies shaped by the pydantic `*Request` models of its module (so generation reaches past
"not an object"). A new protocol is covered by existing in the registry; parsers of another shape
are listed in EXTRA_PARSERS.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import io
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel

from outcrop.errors import ResourceNotFoundException, ValidationException
from outcrop.protocols import PROTOCOL_CLASSES, get_protocol
from outcrop.protocols.images import ImageLimits, decode_image, open_image
from outcrop.protocols.validation import parse_body

EXAMPLES = int(os.environ.get("OUTCROP_FUZZ_EXAMPLES", "300"))  # bench/fuzz.py raises it
CASES_RUN: dict[str, int] = {}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Parsers that are not a protocol's `parse(bytes)`: name -> function(bytes).
def _anthropic_invoke(body: bytes) -> Any:
    from outcrop.protocols.anthropic_messages import parse_anthropic

    return parse_anthropic(body)


EXTRA_PARSERS: dict[str, Callable[[bytes], Any]] = {"anthropic-invoke-body": _anthropic_invoke}
# Where the request models of each extra parser live (to shape generated bodies).
EXTRA_MODULES: dict[str, str] = {"anthropic-invoke-body": "outcrop.protocols.anthropic_messages"}


def protocol_parsers() -> dict[str, Callable[[bytes], Any]]:
    parsers = dict(EXTRA_PARSERS)
    for name in sorted(PROTOCOL_CLASSES):
        parse = getattr(get_protocol(name), "parse", None)
        required = [p for p in inspect.signature(parse).parameters.values() if p.default is p.empty] if parse else []
        if parse is not None and len(required) == 1:
            parsers[name] = parse
    return parsers


def request_models(name: str) -> list[type[BaseModel]]:
    module = importlib.import_module(EXTRA_MODULES.get(name) or PROTOCOL_CLASSES[name].split(":")[0])
    return [v for k, v in vars(module).items() if k.endswith("Request") and isinstance(v, type) and issubclass(v, BaseModel)]


def field_names(model: type[BaseModel], depth: int = 0) -> set[str]:
    names = set(model.model_fields)
    if depth < 3:
        for field in model.model_fields.values():
            for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    names |= field_names(arg, depth + 1)
    return names


def tiny_image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


VALID_IMAGES = [tiny_image(f) for f in ("PNG", "JPEG", "GIF", "WEBP")]
json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)


def shaped_json(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON documents whose object keys are mostly the model's own field names, at any depth."""
    key = st.sampled_from(keys) | st.text(max_size=12) if keys else st.text(max_size=12)
    image_strings = st.sampled_from(VALID_IMAGES).map(lambda b: base64.b64encode(b).decode()) | st.binary(max_size=200).map(
        lambda b: base64.b64encode(b).decode())
    leaves = json_leaves | image_strings | st.sampled_from([256, 384, 1024, 0, -1, 2**31])
    return st.recursive(leaves, lambda children: st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=6), max_leaves=25)


def run_parser(name: str, parse: Callable[[bytes], Any], body: bytes) -> None:
    CASES_RUN[name] = CASES_RUN.get(name, 0) + 1
    try:
        parse(body)
    except ValidationException as exc:
        assert exc.status == 400 and exc.message and "Traceback" not in exc.message
    except ResourceNotFoundException as exc:  # a well-formed body naming what this server lacks (a guardrail)
        assert exc.status == 404 and exc.message and "Traceback" not in exc.message


PARSERS = protocol_parsers()


def test_every_protocol_with_a_parser_is_fuzzed() -> None:
    assert "titan-embed-image" in PARSERS


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_arbitrary_json_bodies(name: str) -> None:
    keys = sorted(set().union(*(field_names(m) for m in request_models(name)))) if request_models(name) else []

    @FUZZ
    @given(document=shaped_json(keys))
    def check(document: Any) -> None:
        run_parser(name, PARSERS[name], json.dumps(document).encode())

    check()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_arbitrary_bytes_bodies(name: str) -> None:
    @FUZZ
    @given(body=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
    def check(body: bytes) -> None:
        run_parser(name, PARSERS[name], body)

    check()


LIMITS = ImageLimits(max_bytes=200_000, max_pixels=512 * 512, max_side=1024)


def check_image(raw: bytes) -> None:
    CASES_RUN["images"] = CASES_RUN.get("images", 0) + 1
    try:
        image = open_image(raw, "image", LIMITS)
    except ValidationException as exc:
        assert exc.message.startswith("image ")
        return
    assert image.width * image.height <= LIMITS.max_pixels and max(image.size) <= LIMITS.max_side
    assert image.format in LIMITS.formats


@FUZZ
@given(raw=st.binary(max_size=4000))
def test_arbitrary_bytes_as_images(raw: bytes) -> None:
    check_image(raw)


@FUZZ
@given(original=st.sampled_from(VALID_IMAGES), data=st.data())
def test_mutated_real_images(original: bytes, data: st.DataObject) -> None:
    """Valid PNG/JPEG/GIF/WebP files with bytes flipped, cut or spliced: the decoder's hard cases."""
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(raw)))
    check_image(bytes(raw[:cut]))


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_base64_strings(text: str) -> None:
    CASES_RUN["base64"] = CASES_RUN.get("base64", 0) + 1
    try:
        decode_image(text, "inputImage", LIMITS)
    except ValidationException:
        pass


class _Shape(BaseModel):
    model_config = {"extra": "forbid"}
    a: int
    b: list[str] = []


@FUZZ
@given(document=st.recursive(json_leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "c"]) | st.text(max_size=5), c, max_size=5)))
def test_parse_body_messages(document: Any) -> None:
    """validation.parse_body turns any pydantic failure into a Bedrock-worded message, never a crash."""
    CASES_RUN["parse_body"] = CASES_RUN.get("parse_body", 0) + 1
    try:
        parse_body(_Shape, json.dumps(document).encode())
    except ValidationException as exc:
        assert exc.message.startswith("Malformed input request")


def test_report_cases_run() -> None:
    print(f"\nproperty-test cases run: {CASES_RUN}")


def test_regression_key_with_bracket() -> None:
    """Found by test_parse_body_messages: a body key containing `[` crashed the error formatter."""
    with pytest.raises(ValidationException, match=r"extraneous key \[\[\] is not permitted"):
        get_protocol("titan-embed-image").parse(b'{"inputText": "x", "[": 1}')
