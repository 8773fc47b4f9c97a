"""Chat with images: a conversation to continue, what came back, and what a chat engine offers
protocols (`ChatModel`: its calls, and its limits as data). Free of any wire format.

A task past the engine's context window is refused with `outcrop.tasks.limits.LimitExceeded`
(kind `CONTEXT_TOKENS`) from `open_stream`/`generate`, before any token streams: the prompt's size,
images included, is known once it is tokenized. Everything else a protocol checks against `limits`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from PIL import Image

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    image: Image.Image


@dataclass(frozen=True)
class JsonPart:
    """A JSON value (a tool's structured result)."""

    value: Any


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: its parameters are a JSON schema."""

    name: str
    description: str | None
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolChoice:
    """`auto`: the model decides; `any`: it must call one of the tools; `tool`: it must call `name`."""

    mode: Literal["auto", "any", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """A call the assistant made (in history) or makes (in a result)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned for the call `id`, sent back in a user turn."""

    id: str
    content: tuple[TextPart | JsonPart, ...]
    status: Literal["success", "error"] | None = None


Part = TextPart | ImagePart | ToolCall | ToolResult


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
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    ocr: bool = False  # text extraction asked for: ground the answer with OCR of the last user turn's images

    @property
    def images(self) -> list[Image.Image]:
        return [p.image for t in self.turns for p in t.parts if isinstance(p, ImagePart)]


@dataclass(frozen=True)
class ChatResult:
    """`text` is the answer without its tool calls, which come parsed in `tool_calls`."""

    text: str
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    first_token_s: float | None = None
    latency_s: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Sent from the worker once the prompt is tokenized: a stream may start."""

    input_tokens: int
    extra: dict[str, object] = field(default_factory=dict)


# `LimitExceeded.kind` of a prompt (images included) that leaves no room for the asked output; its
# `parts` are `input_tokens` and `output_tokens`.
CONTEXT_TOKENS = "context_tokens"


@dataclass(frozen=True)
class ChatLimits:
    context_tokens: int  # the window: prompt tokens (images included) plus output tokens
    max_output_tokens: int  # the most output tokens one task may ask for (`ChatTask.max_tokens`)


class ChatStream(Protocol):
    """Text deltas as generated; `result` is set once iteration ends. Leaving the iteration early cancels it."""

    result: ChatResult | None

    @property
    def input_tokens(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[str]: ...


class ChatModel(Protocol):
    """The typed interface of a chat engine."""

    @property
    def limits(self) -> ChatLimits: ...

    async def open_stream(self, task: ChatTask, *, streaming: bool = True) -> ChatStream:
        """Queue `task`; returns once its prompt is tokenized (a refusal raises here, before any delta)."""
        ...

    async def generate(self, task: ChatTask) -> ChatResult: ...

    async def count_input_tokens(self, task: ChatTask) -> int:
        """The prompt tokens `generate` would report as usage, images included, without generating."""
        ...
