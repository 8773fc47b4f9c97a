"""Model execution. Engines never see HTTP or Bedrock names; they take tasks and return results."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outcrop.engines.base import Engine

# engine name in the model table -> "module:Class". Imported lazily: torch loads on first use only.
ENGINE_CLASSES: dict[str, str] = {
    "embedding": "outcrop.engines.embedding:EmbeddingEngine",
    "text-embedding": "outcrop.engines.text_embedding:TextEmbeddingEngine",
    "vision-chat": "outcrop.engines.vlm:VisionChatEngine",
    # Test-only (fault tests through the real registry); no profile names it.
    "fault": "outcrop.testing.faults:FaultEngine",
    "diffusion": "outcrop.engines.diffusion:DiffusionEngine",
    "sd3": "outcrop.engines.sd3:SD3Engine",
}


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINE_CLASSES:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINE_CLASSES))}")
    module_name, class_name = ENGINE_CLASSES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
