"""Embedding tasks: text, image, or both (averaged) into one shared vector space, and what an image–text
embedding engine offers protocols (`Embedder`): its calls and its limits as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class EmbedTask:
    text: str | None = None
    image: Image.Image | None = None
    dimensions: int = 1024
    normalize: bool = True


@dataclass(frozen=True)
class EmbedResult:
    """The vector; the text's token count comes from `Embedder.count_tokens`, before the work is queued."""

    vector: list[float]


@dataclass(frozen=True)
class EmbedderLimits:
    """What an image–text embedding engine reports, for protocols to check a task against."""

    max_text_tokens: int  # longest text it embeds, in its own tokenizer's tokens
    dimensions: int  # its native vector length; shorter outputs are projections of it


class Embedder(Protocol):
    """The typed interface of an image–text embedding engine (texts and images in one space)."""

    @property
    def limits(self) -> EmbedderLimits: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone, without special tokens."""
        ...

    async def embed(self, task: EmbedTask) -> EmbedResult: ...
