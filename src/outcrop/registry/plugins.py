"""Named, lazily imported classes (engines, protocols), registered the way plugins register.

A name maps to a `"module:Class"` reference, imported on first use only (importing outcrop never imports
torch). Names come from three places, later ones replacing earlier ones:

1. the built-in table, so a source checkout (or an install made before the entry points existed) works;
2. entry points of installed distributions in the group (`outcrop.engines`, `outcrop.protocols`): the
   built-ins are declared so in outcrop's own `pyproject.toml`, and a model family shipped as a separate
   package adds its names the same way;
3. `register(name, reference)` at run time, for embedders of outcrop and for tests.

A model table may also name a class by its reference itself (`engine = "my_pkg.engines:MyEngine"`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger(__name__)

ENGINE_GROUP = "outcrop.engines"
PROTOCOL_GROUP = "outcrop.protocols"


@cache
def installed(group: str) -> dict[str, str]:
    """name -> reference of every installed distribution's entry points in `group` (read once)."""
    return {point.name: point.value for point in entry_points(group=group)}


class Plugins:
    """The classes of one kind (`what`: "engine", "protocol") by name."""

    def __init__(self, what: str, group: str, builtins: Mapping[str, str]) -> None:
        self.what = what
        self.group = group
        self.builtins = builtins
        self._registered: dict[str, str] = {}

    def names(self) -> dict[str, str]:
        """Every known name and its reference."""
        table = dict(self.builtins)
        for name, reference in installed(self.group).items():
            if table.get(name, reference) != reference:
                logger.info("%s %r: entry point %s replaces %s", self.what, name, reference, table[name])
            table[name] = reference
        table.update(self._registered)
        return table

    def register(self, name: str, reference: str) -> None:
        """Make `name` load `reference` ("module:Class") in this process."""
        if ":" not in reference:
            raise ValueError(f"{self.what} {name!r}: {reference!r} is not a 'module:Class' reference")
        self._registered[name] = reference

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)

    def reference(self, name: str) -> str:
        """The reference behind `name` (a name may be a reference itself), or a ValueError listing the names."""
        table = self.names()
        if name in table:
            return table[name]
        if ":" in name:
            return name
        raise ValueError(f"unknown {self.what} {name!r}; known: {', '.join(sorted(table))}")

    def load(self, name: str) -> Any:
        """The class behind `name`, imported now."""
        module_name, _, attribute = self.reference(name).partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"{self.what} {name!r}: cannot import {module_name}:{attribute} ({exc})") from exc
