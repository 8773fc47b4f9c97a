"""Amazon Nova's native body (`schemaVersion: "messages-v1"`) on InvokeModel and
InvokeModelWithResponseStream, plus Converse for the same ids.

The native body is Converse's `system`/`messages` shape (bytes as base64 strings) with Nova's own
`inferenceConfig`: `max_new_tokens` (or `maxTokens`, as Nova 2 spells it), `temperature`, `top_p`
(`topP`), `top_k` (`topK`), `stopSequences`. Messages are parsed by the Converse parser, so images,
documents and their limits are checked once, in one place. The answer is Nova's
`{output: {message}, stopReason, usage}`; a stream is `chunk` events whose bytes are Nova's
`messageStart`, `contentBlockDelta`, `contentBlockStop`, `messageStop` and `metadata` events, the
last one carrying `amazon-bedrock-invocationMetrics`. Video is refused (the served model reads
images and documents only); Nova Micro (`NovaTextMessages`) takes text only.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from outcrop.errors import ValidationException
from outcrop.protocols import chat_calls
from outcrop.protocols.base import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    INVOKE_MODEL,
    INVOKE_MODEL_STREAM,
    InvokeContext,
    InvokeReply,
    StreamReply,
    require_json,
)
from outcrop.protocols.converse import ChatRequest, Converse, parse_converse
from outcrop.protocols.offload import off_loop
from outcrop.protocols.validation import parse_body
from outcrop.tasks.chat import ChatModel, ChatStream, ChatResult, ChatTask

MAX_NEW_TOKENS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NovaInferenceConfig(_Strict):
    max_new_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    maxTokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    topP: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0, le=128)
    topK: int | None = Field(None, ge=0, le=128)
    stopSequences: list[str] | None = None

    @model_validator(mode="after")
    def _one_spelling(self) -> NovaInferenceConfig:
        for snake, camel in (("max_new_tokens", "maxTokens"), ("top_p", "topP"), ("top_k", "topK")):
            if getattr(self, snake) is not None and getattr(self, camel) is not None:
                raise ValueError(f"{snake} and {camel} are the same setting; send one of them")
        return self


class NovaRequest(_Strict):
    """The Nova-specific fields; `system` and `messages` are validated by the Converse parser."""

    schemaVersion: Literal["messages-v1"] | None = None
    system: list[Any] | None = None
    messages: list[Any]
    inferenceConfig: NovaInferenceConfig | None = None
    toolConfig: dict[str, Any] | None = None


def _has_block(messages: list[Any], kind: str) -> bool:
    return any(isinstance(m, dict) and isinstance(m.get("content"), list)
               and any(isinstance(b, dict) and kind in b for b in m["content"]) for m in messages)


def parse_nova(body: bytes, json_from_prompt: bool = True, text_only: bool = False) -> ChatRequest:
    request = parse_body(NovaRequest, body)
    if request.toolConfig is not None:
        raise ValidationException("toolConfig is not supported on InvokeModel by this server; use Converse with toolConfig.")
    if _has_block(request.messages, "video"):
        raise ValidationException("The model that serves this id on this server doesn't support the video content "
                                  "block. Remove it and try again.")
    if text_only:
        _refuse_images(request.messages)
    config = request.inferenceConfig or NovaInferenceConfig.model_validate({})
    converse: dict[str, Any] = {"messages": request.messages}
    if request.system is not None:
        converse["system"] = request.system
    inference = {"maxTokens": config.max_new_tokens or config.maxTokens, "temperature": config.temperature,
                 "topP": config.top_p if config.top_p is not None else config.topP,
                 "stopSequences": config.stopSequences}
    converse["inferenceConfig"] = {k: v for k, v in inference.items() if v is not None}
    top_k = config.top_k if config.top_k is not None else config.topK
    if top_k is not None:
        converse["additionalModelRequestFields"] = {"top_k": top_k}
    return parse_converse(json.dumps(converse).encode(), json_from_prompt)


def _refuse_images(messages: list[Any]) -> None:
    for kind in ("image", "document"):
        if _has_block(messages, kind):
            raise ValidationException(f"This model doesn't support the {kind} content block. Remove it and try again.")


def _usage(result: ChatResult) -> dict[str, int]:
    return {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens,
            "totalTokens": result.input_tokens + result.output_tokens,
            "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}


def _chunk(event: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return "chunk", {"bytes": base64.b64encode(json.dumps(event, ensure_ascii=False).encode()).decode()}


class NovaMessages(Converse):
    name = "nova-messages"
    operations = frozenset({INVOKE_MODEL, INVOKE_MODEL_STREAM, CONVERSE, CONVERSE_STREAM, COUNT_TOKENS})
    text_only = False

    def parse_invoke(self, ctx: InvokeContext[ChatModel], body: bytes | None = None) -> ChatTask:
        return parse_nova(ctx.body if body is None else body, self.options(ctx.entry).json_from_prompt, self.text_only).task

    async def _nova_request(self, ctx: InvokeContext[ChatModel]) -> ChatRequest:
        require_json(ctx.content_type, ctx.accept)
        return await off_loop(parse_nova, ctx.body, self.options(ctx.entry).json_from_prompt, self.text_only)

    async def _parse(self, ctx: InvokeContext[ChatModel], body: bytes | None = None) -> ChatRequest:
        if self.text_only:
            try:
                document = json.loads(ctx.body if body is None else body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                document = None
            if isinstance(document, dict) and isinstance(document.get("messages"), list):
                _refuse_images(document["messages"])
        return await super()._parse(ctx, body)

    async def invoke_model(self, ctx: InvokeContext[ChatModel]) -> InvokeReply:
        request = await self._nova_request(ctx)
        engine = await ctx.engine()
        result = await chat_calls.generate(engine, request.task)
        body = {"output": {"message": {"role": "assistant", "content": [{"text": result.text}]}},
                "stopReason": result.stop_reason, "usage": _usage(result)}
        return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode(), headers={
            "X-Amzn-Bedrock-Input-Token-Count": str(result.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(result.output_tokens)})

    async def invoke_model_stream(self, ctx: InvokeContext[ChatModel]) -> StreamReply:
        started = time.monotonic()
        request = await self._nova_request(ctx)
        engine = await ctx.engine()
        stream = await chat_calls.open_stream(engine, request.task)
        return StreamReply(events=_nova_events(stream, started), headers={"X-Amzn-Bedrock-Content-Type": "application/json"})


class NovaTextMessages(NovaMessages):
    """Nova Micro: text in, text out."""

    name = "nova-text-messages"
    input_modalities = ("TEXT",)
    text_only = True


async def _nova_events(stream: ChatStream, started: float) -> AsyncIterator[tuple[str, Any]]:
    yield _chunk({"messageStart": {"role": "assistant"}})
    first_byte: float | None = None
    async for delta in stream:
        if first_byte is None:
            first_byte = time.monotonic() - started
        yield _chunk({"contentBlockDelta": {"delta": {"text": delta}, "contentBlockIndex": 0}})
    result = stream.result
    assert result is not None  # set once the iteration ends
    yield _chunk({"contentBlockStop": {"contentBlockIndex": 0}})
    yield _chunk({"messageStop": {"stopReason": result.stop_reason}})
    latency = int((time.monotonic() - started) * 1000)
    yield _chunk({
        "metadata": {"usage": {"inputTokens": result.input_tokens, "outputTokens": result.output_tokens},
                     "metrics": {}, "trace": {}},
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": result.input_tokens, "outputTokenCount": result.output_tokens,
            "invocationLatency": latency,
            "firstByteLatency": int(first_byte * 1000) if first_byte is not None else latency},
    })
