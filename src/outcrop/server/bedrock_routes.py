"""The model routes of botocore's `bedrock-runtime` service model (paths from the route table in
server/operations.py). Each route is thin: it hands the operation,
the model id and the request to `Runtime.invoke` (the one path every caller takes) and writes the reply."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from outcrop.errors import BedrockError
from outcrop.protocols.base import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    INVOKE_MODEL,
    INVOKE_MODEL_STREAM,
    InvokeReply,
    StreamReply,
)
from outcrop.runtime import Runtime
from outcrop.server import eventstream
from outcrop.server.body import read_body
from outcrop.server.control_routes import guardrails_of
from outcrop.server.errors import request_id_of
from outcrop.server.operations import served
from outcrop.server.progress import followed

logger = logging.getLogger(__name__)
router = APIRouter()


async def _invoke(request: Request, operation: str, raw_model_id: str) -> Any:
    runtime: Runtime = request.app.state.runtime
    async with followed(request) as progress:  # X-Outcrop-Progress-Id: outcrop's progress stream
        return await runtime.invoke(
            operation, unquote(raw_model_id), lambda: read_body(request, runtime.settings.max_body_bytes),
            headers=request.headers, request_id=request_id_of(request),
            caller=request.scope.get("state", {}).get("principal"), guardrails=guardrails_of(request),
            progress=progress,
        )


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


@served(router, "InvokeModel")
async def invoke_model(modelId: str, request: Request) -> Response:
    started = time.monotonic()
    return _reply(await _invoke(request, INVOKE_MODEL, modelId), started)


@served(router, "InvokeModelWithResponseStream")
async def invoke_model_with_response_stream(modelId: str, request: Request) -> Response:
    return _stream(await _invoke(request, INVOKE_MODEL_STREAM, modelId), INVOKE_MODEL_STREAM)


@served(router, "Converse")
async def converse(modelId: str, request: Request) -> Response:
    started = time.monotonic()
    return _reply(await _invoke(request, CONVERSE, modelId), started)


@served(router, "ConverseStream")
async def converse_stream(modelId: str, request: Request) -> Response:
    return _stream(await _invoke(request, CONVERSE_STREAM, modelId), CONVERSE_STREAM)


@served(router, "CountTokens")
async def count_tokens(modelId: str, request: Request) -> Response:
    reply: InvokeReply = await _invoke(request, COUNT_TOKENS, modelId)
    return Response(content=reply.body, media_type=reply.content_type)
