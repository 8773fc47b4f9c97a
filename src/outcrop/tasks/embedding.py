"""Embedding tasks: text, image, or both (averaged) into one shared vector space."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class EmbedTask:
    text: str | None = None
    image: Image.Image | None = None
    dimensions: int = 1024
    normalize: bool = True


@dataclass(frozen=True)
class EmbedResult:
    """The vector; the text's token count comes from the engine's `check`, before the work is queued."""

    vector: list[float]
