"""Text embedding tasks (one text, one vector) and what a text embedding engine tells protocols.

A protocol sizes a text against the engine's window with `TextEmbedder` before queueing it; the
engine only computes and reports facts (its window, native dimension, prompt names); every
refusal is worded by the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Side = Literal["start", "end"]


@dataclass(frozen=True)
class TextEmbedTask:
    text: str
    dimensions: int | None = None  # None: the model's native dimension
    normalize: bool = True
    prompt_name: str | None = None  # a prompt the model was trained with (e.g. "query", "document")


class TextEmbedder(Protocol):
    """The typed interface of a text embedding engine."""

    native_dim: int
    max_tokens: int  # the model's window, special tokens and prompt included
    prompt_names: frozenset[str]

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone, without special tokens or a prompt."""
        ...

    def overhead(self, prompt_name: str | None) -> int:
        """Tokens the model adds to every text: special tokens and the named prompt."""
        ...

    def clip(self, text: str, max_text_tokens: int, side: Side) -> str:
        """`text` cut at a token boundary to at most `max_text_tokens`, dropping its start or its end."""
        ...

    async def embed(self, task: TextEmbedTask) -> list[float]: ...
