"""What `extract` validates against: a JSON Schema dict (checked by jsonschema-rs, any draft it
supports) or a pydantic model class (checked by pydantic itself, whose JSON Schema goes in the
prompt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SchemaCheck:
    json_schema: dict[str, Any]
    model: Any = None  # a pydantic BaseModel subclass, or None for a plain JSON Schema

    def validate(self, data: Any) -> tuple[Any, list[str]]:
        """(value, errors): the validated value (a model instance for pydantic) and readable errors."""
        if self.model is not None:
            from pydantic import ValidationError

            try:
                return self.model.model_validate(data), []
            except ValidationError as exc:
                return None, [f"{'/'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()]
        import jsonschema_rs

        errors = [f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}"
                  for e in jsonschema_rs.validator_for(self.json_schema).iter_errors(data)]
        return (None if errors else data), errors


def schema_check(schema: Any) -> SchemaCheck | None:
    """A check for a JSON Schema dict, a pydantic model class, or None (any JSON)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        import jsonschema_rs

        jsonschema_rs.validator_for(schema)  # a malformed schema fails here, before any model call
        return SchemaCheck(schema)
    if isinstance(schema, type) and hasattr(schema, "model_json_schema") and hasattr(schema, "model_validate"):
        return SchemaCheck(schema.model_json_schema(), schema)
    raise TypeError(f"schema must be a JSON Schema dict or a pydantic model class, not {type(schema).__name__}")
