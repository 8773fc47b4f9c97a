"""What a protocol (one Bedrock body family) offers the server, and what the server hands it.

A protocol validates a body with Bedrock's ranges and messages, turns it into a task, asks its
engine (through `InvokeContext.engine`, never importing torch), and writes Bedrock's response
shape. A protocol is generic in the typed engine interface of its task kind (`outcrop.tasks.*`:
`Embedder`, `TextEmbedder`, `ImageGenerator`, `ChatModel`) and names it in `engine_interface`, so
mypy checks its calls against that interface and the registry refuses, at load, an entry whose
engine does not offer it. Its `operations` say which Bedrock operations the model family supports, as data: the
server answers every other operation with Bedrock's own error before any work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from outcrop.errors import ValidationException
from outcrop.registry import ModelEntry
from outcrop.registry.options import Options, parse_options

if TYPE_CHECKING:  # tasks.chat imports PIL: never on the CLI's --help path
    from outcrop.tasks.chat import ChatModel

INVOKE_MODEL = "InvokeModel"
INVOKE_MODEL_STREAM = "InvokeModelWithResponseStream"
CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"
COUNT_TOKENS = "CountTokens"

JSON = "application/json"

E = TypeVar("E")


@dataclass
class InvokeContext(Generic[E]):
    """One request as a protocol sees it: the resolved entry, raw body, Bedrock headers, the engine."""

    model_id: str
    entry: ModelEntry
    body: bytes
    headers: Mapping[str, str]
    request_id: str
    engine: Callable[[], Awaitable[E]]
    content_type: str | None = None
    accept: str | None = None
    # The loaded engine of another model id of the same table whose protocol supports Converse, for a
    # protocol that needs a chat model's help (protocols/mask_translation.py translates maskPrompt).
    # None where no runtime is at hand. Raises ModelErrorException for an id that is not a chat model.
    chat_engine: Callable[[str], Awaitable[ChatModel]] | None = None
    # The server's guardrails (outcrop.guardrails.service.Guardrails), for `guardrailConfig`; None
    # where no server is at hand.
    guardrails: Any | None = None
    # Called with (step, steps) as an image engine denoises, for a caller that follows the job (the
    # playground's progress bar); image protocols put it on their task. None: nobody follows.
    progress: Callable[[int, int], None] | None = None


@dataclass
class InvokeReply:
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamReply:
    """An event stream: `events` yields (event-type, payload) pairs; headers go out first."""

    events: AsyncIterator[tuple[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _options(model: type[Options], values: tuple[tuple[str, Any], ...], where: str) -> Options:
    return parse_options(model, dict(values), where)


class Protocol(Generic[E]):
    name: ClassVar[str]
    # The typed engine interface this family calls (`E`, as a value); engines list the ones they offer
    # (`Engine.interfaces`) and the registry refuses an entry that pairs the two wrongly. None: no check.
    engine_interface: ClassVar[type[Any] | None] = None
    # The options this family reads from a table entry's `protocol_options` (registry/options.py).
    Options: ClassVar[type[Options]] = Options
    operations: ClassVar[frozenset[str]] = frozenset()
    # What the family takes and gives, in the control plane's ModelModality words (ListFoundationModels).
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    output_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    # Whether InvokeModel / InvokeModelWithResponseStream apply the X-Amzn-Bedrock-Guardrail* headers.
    invoke_guardrails: ClassVar[bool] = False

    def options(self, entry: ModelEntry) -> Any:
        """`entry`'s protocol options, parsed once per distinct table of values."""
        return _options(self.Options, entry.protocol_options, f"{entry.source}: model {entry.model_id!r} (protocol {self.name!r})")

    async def invoke_model(self, ctx: InvokeContext[E]) -> InvokeReply:
        raise NotImplementedError

    async def invoke_model_stream(self, ctx: InvokeContext[E]) -> StreamReply:
        raise NotImplementedError

    async def converse(self, ctx: InvokeContext[E]) -> InvokeReply:
        raise NotImplementedError

    async def converse_stream(self, ctx: InvokeContext[E]) -> StreamReply:
        raise NotImplementedError

    async def count_tokens(self, ctx: InvokeContext[E]) -> InvokeReply:
        """CountTokens: `ctx.body` is the operation's own body (`{"input": {"invokeModel"|"converse": …}}`)."""
        raise NotImplementedError


def unsupported_operation(operation: str) -> ValidationException:
    """Bedrock's answer when a model does not support an operation."""
    if operation in (CONVERSE, CONVERSE_STREAM):
        return ValidationException(
            "This action doesn't support the model that you provided. Try again with a supported text or chat model."
        )
    if operation == INVOKE_MODEL_STREAM:
        return ValidationException("The model is unsupported for streaming.")
    if operation == COUNT_TOKENS:
        return ValidationException("The provided model doesn't support counting tokens.")
    return ValidationException("This model doesn't support the InvokeModel operation.")


def require_json(content_type: str | None, accept: str | None) -> None:
    """Bodies of JSON model families must be JSON, and so must what the caller accepts."""
    if content_type and content_type.split(";")[0].strip().lower() not in (JSON, "application/*", "*/*"):
        raise ValidationException(f"The provided Content-Type '{content_type}' is not supported. Use {JSON}.")
    if accept and not any(
        part.split(";")[0].strip().lower() in (JSON, "application/*", "*/*") for part in accept.split(",")
    ):
        raise ValidationException(f"The provided Accept type '{accept}' is not supported. Use {JSON}.")
