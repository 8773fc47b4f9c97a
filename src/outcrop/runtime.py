"""What every caller of a model serves with -- the HTTP server, the CLI, search and the benches: settings,
the model table, the engine pool, and the one path a Bedrock operation takes (model id -> protocol ->
engine), so each caller gets the same validation, the same errors and the same retries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from outcrop.config import Settings
from outcrop.engines import engine_class
from outcrop.engines.failures import public_failure
from outcrop.engines.pool import EnginePool
from outcrop.errors import BedrockError, ModelErrorException, ValidationException
from outcrop.protocols import get_protocol
from outcrop.protocols.base import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    INVOKE_MODEL,
    INVOKE_MODEL_STREAM,
    InvokeContext,
    InvokeReply,
    Protocol,
    StreamReply,
    unsupported_operation,
)
from outcrop.registry import ModelEntry, ModelTable, load_model_table
from outcrop.registry.aliases import validate_model_id
from outcrop.retries import RetryJoiner, retry_key
from outcrop.tasks.chat import ChatModel

logger = logging.getLogger(__name__)

# The protocol method behind each operation.
METHODS = {
    INVOKE_MODEL: "invoke_model",
    INVOKE_MODEL_STREAM: "invoke_model_stream",
    CONVERSE: "converse",
    CONVERSE_STREAM: "converse_stream",
    COUNT_TOKENS: "count_tokens",
}
STREAMING = frozenset({INVOKE_MODEL_STREAM, CONVERSE_STREAM})
# botocore's shape for the model id of each operation (Converse takes prompt ARNs too, InvokeModel more).
_ID_SHAPES = {CONVERSE: "ConversationalModelId", CONVERSE_STREAM: "ConversationalModelId",
              COUNT_TOKENS: "FoundationModelVersionIdentifier"}
GUARDRAIL_HEADER = "x-amzn-bedrock-guardrailidentifier"

Body = bytes | Callable[[], Awaitable[bytes]]


@dataclass
class Runtime:
    settings: Settings
    table: ModelTable
    pool: EnginePool
    # Joins an SDK's retries of one call (outcrop/retries.py): abandoned work is never run twice.
    retries: RetryJoiner = field(default_factory=RetryJoiner)
    # How long a call waits for its engine to load: None is the pool's load wait (a server answers
    # ModelNotReadyException after it); a command-line run waits as long as loading takes.
    engine_wait_s: float | None = None

    @property
    def guardrail_judge_model(self) -> str:
        """The guardrails' judge: the server's setting, else the profile's `[guardrails] judge`."""
        chosen = self.settings.guardrail_judge_model
        return self.table.guardrail_judge if chosen is None else chosen

    @classmethod
    def build(cls, settings: Settings, engine_wait_s: float | None = None) -> Runtime:
        table = load_model_table(settings.resolved_profile, settings.models_file)
        check_options(table)
        pool = EnginePool(table, settings.cache_dir, load_wait_s=settings.load_wait_s)
        return cls(settings=settings, table=table, pool=pool, engine_wait_s=engine_wait_s)

    def resolve(self, operation: str, model_id: str, headers: Mapping[str, str] | None = None,
                ) -> tuple[ModelEntry, Protocol[Any]]:
        """The entry and protocol that serve `operation` on `model_id`, or Bedrock's refusal."""
        validate_model_id(model_id, _ID_SHAPES.get(operation, "InvokeModelIdentifier"))
        entry = self.table.resolve(model_id)
        protocol = get_protocol(entry.protocol)
        if operation not in protocol.operations:
            raise unsupported_operation(operation)
        if (operation in (INVOKE_MODEL, INVOKE_MODEL_STREAM) and not protocol.invoke_guardrails
                and headers is not None and headers.get(GUARDRAIL_HEADER) is not None):
            raise ValidationException("This server applies guardrails on InvokeModel to text chat models (Anthropic "
                                      "messages bodies) and to image generation (SDXL, SD3 / Stable Image, Titan Image, "
                                      "Nova Canvas) only; remove the X-Amzn-Bedrock-GuardrailIdentifier header or call "
                                      "ApplyGuardrail.")
        return entry, protocol

    async def invoke(self, operation: str, model_id: str, body: Body, *, headers: Mapping[str, str] | None = None,
                     request_id: str = "local", caller: str | None = None, guardrails: Any | None = None,
                     progress: Callable[[int, int], None] | None = None) -> InvokeReply | StreamReply:
        """Run one Bedrock operation. `body` is the raw request body, or a reader called only once the model
        id and operation have passed (so a refused call never reads a large body). `headers` are the request's
        (content type, accept, guardrail and retry headers); `caller` keys the joining of an SDK's retries;
        `progress` hears an image engine's denoising steps (InvokeContext.progress)."""
        headers = headers or {}
        entry, protocol = self.resolve(operation, model_id, headers)
        raw = body if isinstance(body, bytes) else await body()
        accept = headers.get("x-amzn-bedrock-accept") if operation == INVOKE_MODEL_STREAM else headers.get("accept")
        ctx: InvokeContext[Any] = InvokeContext(
            model_id=model_id, entry=entry, body=raw, headers=headers, request_id=request_id,
            engine=lambda: self.pool.get(entry, wait_s=self.engine_wait_s),
            content_type=headers.get("content-type"), accept=accept,
            chat_engine=self.chat_engine, guardrails=guardrails, progress=progress,
        )
        if operation in STREAMING:
            stream: StreamReply = await self._call(protocol, operation, ctx)
            return stream
        key = retry_key(headers, caller=caller, operation=operation, model_id=model_id, accept=accept, body=raw)
        reply: InvokeReply = await self.retries.run(key, lambda: self._call(protocol, operation, ctx))
        return reply

    async def _call(self, protocol: Protocol[Any], operation: str, ctx: InvokeContext[Any]) -> Any:
        """The protocol's answer; anything unexpected becomes a clean Bedrock error, logged in full here."""
        try:
            return await getattr(protocol, METHODS[operation])(ctx)
        except BedrockError:
            raise
        except Exception as exc:
            logger.error("%s on %s failed, request id %s", operation, ctx.model_id, ctx.request_id, exc_info=exc)
            raise public_failure(exc, ctx.model_id, ctx.request_id) from exc

    async def chat_engine(self, model_id: str) -> ChatModel:
        """The engine behind `model_id` when its protocol supports Converse (the `InvokeContext.chat_engine`
        accessor); a configured id that is missing or not a chat model is the deployment's error."""
        try:
            entry = self.table.resolve(model_id)
        except ValidationException:  # the table's answer to an id it does not serve
            entry = None
        if entry is None or CONVERSE not in get_protocol(entry.protocol).operations:
            raise ModelErrorException(f"This deployment's helper model '{model_id}' is not a chat model it serves.",
                                      originalStatusCode=500, resourceName=model_id)
        engine = await self.pool.get(entry, wait_s=self.engine_wait_s)
        if ChatModel not in engine.interfaces:
            raise ModelErrorException(f"This deployment's helper model '{model_id}' is not a chat model it serves.",
                                      originalStatusCode=500, resourceName=model_id)
        return cast(ChatModel, engine)


def check_options(table: ModelTable) -> None:
    """Every entry's engine and protocol options against their declarations, and its engine against the
    interface its protocol calls: a typo in a profile or a `--models` file, or a protocol paired with an
    engine of another task kind, stops start-up with the entry's file and id (a ValueError)."""
    for entry in table:
        engine = engine_class(entry.engine)
        protocol = get_protocol(entry.protocol)
        engine.parse_options(entry)
        protocol.options(entry)
        wanted = protocol.engine_interface
        if wanted is not None and wanted not in engine.interfaces:
            offered = ", ".join(i.__name__ for i in engine.interfaces) or "no typed interface"
            raise ValueError(f"{entry.source}: model {entry.model_id!r}: protocol {entry.protocol!r} calls a "
                             f"{wanted.__name__} engine, and engine {entry.engine!r} offers {offered}")
