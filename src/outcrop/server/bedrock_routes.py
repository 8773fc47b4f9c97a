"""The routes of botocore's `bedrock-runtime` service model. Each route is thin: resolve the model,
check the protocol supports the operation, hand the protocol an `InvokeContext`, write its reply."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from outcrop.errors import BedrockError, ModelErrorException, ValidationException
from outcrop.protocols import get_protocol
from outcrop.protocols.base import (
    CONVERSE,
    CONVERSE_STREAM,
    INVOKE_MODEL,
    INVOKE_MODEL_STREAM,
    InvokeContext,
    InvokeReply,
    StreamReply,
    unsupported_operation,
)
from outcrop.registry.aliases import validate_model_id
from outcrop.server import eventstream
from outcrop.server.body import read_body
from outcrop.server.control_routes import guardrails_of
from outcrop.server.errors import request_id_of
from outcrop.server.retries import retry_key
from outcrop.server.runtime import Runtime

logger = logging.getLogger(__name__)
router = APIRouter()

_METHODS = {
    INVOKE_MODEL: "invoke_model",
    INVOKE_MODEL_STREAM: "invoke_model_stream",
    CONVERSE: "converse",
    CONVERSE_STREAM: "converse_stream",
}


async def _context(request: Request, raw_model_id: str, operation: str) -> tuple[Any, InvokeContext]:
    runtime: Runtime = request.app.state.runtime
    model_id = unquote(raw_model_id)
    validate_model_id(model_id, "ConversationalModelId" if operation in (CONVERSE, CONVERSE_STREAM) else "InvokeModelIdentifier")
    entry = runtime.table.resolve(model_id)
    protocol = get_protocol(entry.protocol)
    if operation not in protocol.operations:
        raise unsupported_operation(operation)
    if (operation in (INVOKE_MODEL, INVOKE_MODEL_STREAM) and not protocol.invoke_guardrails
            and request.headers.get("x-amzn-bedrock-guardrailidentifier") is not None):
        raise ValidationException("This server applies guardrails on InvokeModel to text chat models (Anthropic "
                                  "messages bodies) only; remove the X-Amzn-Bedrock-GuardrailIdentifier header or "
                                  "call ApplyGuardrail.")
    body = await read_body(request, runtime.settings.max_body_bytes)
    headers = request.headers
    accept = headers.get("x-amzn-bedrock-accept") if operation == INVOKE_MODEL_STREAM else headers.get("accept")
    ctx = InvokeContext(
        model_id=model_id,
        entry=entry,
        body=body,
        headers=headers,
        request_id=request_id_of(request),
        engine=lambda: runtime.pool.get(entry),
        content_type=headers.get("content-type"),
        accept=accept,
        chat_engine=runtime.chat_engine,
        guardrails=guardrails_of(request),
    )
    return protocol, ctx


async def _joined_call(request: Request, protocol: Any, operation: str, ctx: InvokeContext) -> Any:
    """`_call` for a non-streaming operation, shared by every attempt of one SDK call (server/retries.py)."""
    runtime: Runtime = request.app.state.runtime
    key = retry_key(ctx.headers, caller=request.scope.get("state", {}).get("principal"), operation=operation,
                    model_id=ctx.model_id, accept=ctx.accept, body=ctx.body)
    return await runtime.retries.run(key, lambda: _call(protocol, operation, ctx))


async def _call(protocol: Any, operation: str, ctx: InvokeContext) -> Any:
    """Run the protocol; anything unexpected becomes a clean ModelErrorException, logged in full here."""
    try:
        return await getattr(protocol, _METHODS[operation])(ctx)
    except BedrockError:
        raise
    except Exception as exc:
        out_of_memory = type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()
        logger.error("%s on %s failed, request id %s", operation, ctx.model_id, ctx.request_id, exc_info=exc)
        what = "ran out of memory" if out_of_memory else "encountered an error"
        raise ModelErrorException(
            f"The model {what} while processing the request (request id {ctx.request_id}).",
            originalStatusCode=500,
            resourceName=ctx.model_id,
        ) from exc


def _reply(reply: InvokeReply, started: float, content_type_header: str = "Content-Type") -> Response:
    headers = {**reply.headers, "X-Amzn-Bedrock-Invocation-Latency": str(int((time.monotonic() - started) * 1000))}
    if content_type_header != "Content-Type":
        headers[content_type_header] = reply.content_type
    return Response(content=reply.body, media_type=reply.content_type, headers=headers)


# The exception members of each operation's event-stream union (botocore's service model).
_STREAM_EXCEPTIONS = {
    CONVERSE_STREAM: frozenset({"internalServerException", "modelStreamErrorException", "validationException",
                                "throttlingException", "serviceUnavailableException"}),
    INVOKE_MODEL_STREAM: frozenset({"internalServerException", "modelStreamErrorException", "validationException",
                                    "throttlingException", "modelTimeoutException", "serviceUnavailableException"}),
}


def _exception_frame(exc: BedrockError, operation: str) -> bytes:
    """An error after the first frame as an exception event of a member the operation's union has;
    others (e.g. a stream deadline, ModelTimeoutException, in ConverseStream) go as
    modelStreamErrorException with the original status and message."""
    if exc.event_type in _STREAM_EXCEPTIONS[operation]:
        return eventstream.exception_frame(exc.event_type, exc.body())
    return eventstream.exception_frame(
        "modelStreamErrorException",
        {"message": exc.message, "originalStatusCode": exc.status, "originalMessage": f"{exc.code}: {exc.message}"},
    )


async def _frames(reply: StreamReply, operation: str) -> AsyncIterator[bytes]:
    """Encode events as they come; an error after the first frame goes out as an exception event."""
    try:
        async for event_type, payload in reply.events:
            yield eventstream.event_frame(event_type, payload)
    except BedrockError as exc:
        yield _exception_frame(exc, operation)
    except Exception as exc:  # never a traceback to the client, never a torn stream without a reason
        logger.error("stream failed", exc_info=exc)
        yield eventstream.exception_frame(
            "modelStreamErrorException", {"message": "The model encountered an error while streaming.", "originalStatusCode": 500}
        )


def _stream(reply: StreamReply, operation: str) -> StreamingResponse:
    return StreamingResponse(_frames(reply, operation), media_type=eventstream.CONTENT_TYPE, headers=reply.headers)


@router.post("/model/{modelId}/invoke", operation_id="InvokeModel")
async def invoke_model(modelId: str, request: Request) -> Response:
    started = time.monotonic()
    protocol, ctx = await _context(request, modelId, INVOKE_MODEL)
    return _reply(await _joined_call(request, protocol, INVOKE_MODEL, ctx), started)


@router.post("/model/{modelId}/invoke-with-response-stream", operation_id="InvokeModelWithResponseStream")
async def invoke_model_with_response_stream(modelId: str, request: Request) -> Response:
    protocol, ctx = await _context(request, modelId, INVOKE_MODEL_STREAM)
    return _stream(await _call(protocol, INVOKE_MODEL_STREAM, ctx), INVOKE_MODEL_STREAM)


@router.post("/model/{modelId}/converse", operation_id="Converse")
async def converse(modelId: str, request: Request) -> Response:
    started = time.monotonic()
    protocol, ctx = await _context(request, modelId, CONVERSE)
    return _reply(await _joined_call(request, protocol, CONVERSE, ctx), started)


@router.post("/model/{modelId}/converse-stream", operation_id="ConverseStream")
async def converse_stream(modelId: str, request: Request) -> Response:
    protocol, ctx = await _context(request, modelId, CONVERSE_STREAM)
    return _stream(await _call(protocol, CONVERSE_STREAM, ctx), CONVERSE_STREAM)
