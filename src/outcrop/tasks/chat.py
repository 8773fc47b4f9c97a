"""Chat with images: a conversation to continue, and what came back. Free of any wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

StopReason = Literal["end_turn", "max_tokens", "stop_sequence"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    image: Image.Image


Part = TextPart | ImagePart


@dataclass(frozen=True)
class ChatTurn:
    role: Literal["user", "assistant"]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class ChatTask:
    """Continue `turns` (the last one is the user's, or an assistant prefill to extend)."""

    turns: tuple[ChatTurn, ...]
    system: str | None = None
    max_tokens: int | None = None  # None: the model's own output limit
    temperature: float | None = None  # None: the engine's default (greedy in outcrop's profiles)
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop_sequences: tuple[str, ...] = ()
    json_output: bool = False  # constrain decoding to one valid JSON value
    hold_back: tuple[str, ...] = ()  # markers (e.g. a tool-call tag) not to stream before the protocol sees them
    ocr: bool = False  # text extraction asked for: ground the answer with OCR of the last user turn's images

    @property
    def images(self) -> list[Image.Image]:
        return [p.image for t in self.turns for p in t.parts if isinstance(p, ImagePart)]


@dataclass(frozen=True)
class ChatResult:
    text: str
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    first_token_s: float | None = None
    latency_s: float = 0.0


@dataclass(frozen=True)
class Prepared:
    """Sent from the worker once the prompt is tokenized: a stream may start."""

    input_tokens: int
    extra: dict[str, object] = field(default_factory=dict)
