"""Model execution. Engines never see HTTP or Bedrock names; they take tasks and return results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from outcrop.registry.plugins import ENGINE_GROUP, Plugins

if TYPE_CHECKING:
    from outcrop.engines.base import Engine

# The built-in engines by their name in the model table; `pyproject.toml` declares the same names as entry
# points of the `outcrop.engines` group, where other packages add theirs (outcrop/registry/plugins.py).
ENGINE_CLASSES: dict[str, str] = {
    "embedding": "outcrop.engines.embedding:EmbeddingEngine",
    "text-embedding": "outcrop.engines.text_embedding:TextEmbeddingEngine",
    "vision-chat": "outcrop.engines.vlm:VisionChatEngine",
    "diffusion": "outcrop.engines.diffusion:DiffusionEngine",
    "sd3": "outcrop.engines.sd3:SD3Engine",
}

ENGINES = Plugins("engine", ENGINE_GROUP, ENGINE_CLASSES)


def engine_class(name: str) -> type[Engine]:
    """The engine class a model table names (imported now: torch loads on first use only)."""
    engine: type[Engine] = ENGINES.load(name)
    return engine


def register_engine(name: str, reference: str) -> None:
    """Serve `name` in a model table with the class at `reference` ("module:Class") in this process."""
    ENGINES.register(name, reference)


def unregister_engine(name: str) -> None:
    """Undo `register_engine` (tests)."""
    ENGINES.unregister(name)
