"""Declared options. Every engine and every protocol says which options it reads from the model table, with
their types and defaults (a pydantic model), so a typo or a wrong type in a profile or a `--models` file
fails at start-up with the entry and the option's name, instead of being silently ignored.

Engine options (`options` in the table) tune the loaded engine and key its sharing; protocol options
(`protocol_options`) shape one model id's bodies and never load a second engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

OptionsT = TypeVar("OptionsT", bound="Options")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_options(model: type[OptionsT], values: Mapping[str, Any], where: str) -> OptionsT:
    """`values` as `model`, or a ValueError naming `where` and each offending option."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        known = ", ".join(sorted(model.model_fields)) or "none"
        problems = []
        for error in exc.errors(include_url=False):
            name = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option {name!r} (known: {known})")
            else:
                problems.append(f"option {name!r}: {error['msg']} (got {error.get('input')!r})")
        raise ValueError(f"{where}: {'; '.join(problems)}") from None
