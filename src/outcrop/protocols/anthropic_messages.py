"""Anthropic Claude Messages bodies on InvokeModel / InvokeModelWithResponseStream (`bedrock-2023-05-31`),
plus Converse for the same ids. Streams are `chunk` events carrying Anthropic's stream events."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import ConverseGuard
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
from outcrop.protocols.chat_content import ContentBudget, image_part
from outcrop.protocols.converse import ChatRequest, Converse, asks_for_json, asks_for_ocr, check_roles, guard_input
from outcrop.protocols.invoke_guardrail import guarded_texts, guardrail_request, response_fields
from outcrop.protocols.offload import off_loop
from outcrop.protocols.validation import parse_body
from outcrop.registry.aliases import PROFILE_PREFIXES
from outcrop.tasks.chat import ChatModel, ChatStream, ChatResult, ChatTask, ChatTurn, Part, TextPart

_MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBlock(_Strict):
    type: Literal["text"]
    text: str
    cache_control: dict[str, Any] | None = None


class ImageSource(_Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class ImageBlock(_Strict):
    type: Literal["image"]
    source: ImageSource
    cache_control: dict[str, Any] | None = None


Block = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class AnthropicMessage(_Strict):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class AnthropicRequest(_Strict):
    anthropic_version: Literal["bedrock-2023-05-31"]
    anthropic_beta: list[str] | None = None
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessage]
    system: str | list[TextBlock] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0, le=500)
    stop_sequences: list[str] | None = Field(None, max_length=8191)
    metadata: dict[str, Any] | None = None


def parse_anthropic(body: bytes, json_from_prompt: bool = True) -> ChatTask:
    try:
        document = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if isinstance(document, dict) and ("tools" in document or "tool_choice" in document):
        raise ValidationException("tools are not supported on InvokeModel by this server; use Converse with toolConfig.")
    request = parse_body(AnthropicRequest, body)
    check_roles([m.role for m in request.messages])
    budget = ContentBudget()
    turns = []
    for i, message in enumerate(request.messages):
        blocks = [TextBlock(type="text", text=message.content)] if isinstance(message.content, str) else message.content
        if not blocks:
            raise ValidationException(f"messages.{i}: all messages must have non-empty content")
        parts: list[Part] = []
        for j, block in enumerate(blocks):
            if isinstance(block, TextBlock):
                if not block.text and not (message.role == "assistant" and i == len(request.messages) - 1):
                    raise ValidationException(f"messages.{i}.content.{j}: text content blocks must be non-empty")
                parts.append(TextPart(block.text))
            else:
                if message.role != "user":
                    raise ValidationException(f"messages.{i}.content.{j}: images can only be sent in user messages.")
                parts.append(image_part(block.source.data, _MEDIA_TYPES[block.source.media_type], f"messages.{i}.content.{j}.image", budget))
        turns.append(ChatTurn(role=message.role, parts=tuple(parts)))
    system = request.system if isinstance(request.system, str) or request.system is None else "\n".join(b.text for b in request.system)
    turns_t = tuple(turns)
    return ChatTask(
        turns=turns_t,
        system=system or None,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        stop_sequences=tuple(s for s in (request.stop_sequences or ()) if s),
        json_output=json_from_prompt and asks_for_json(turns_t),
        ocr=asks_for_ocr(turns_t),
    )


def _model_name(model_id: str) -> str:
    name = model_id.rsplit("/", 1)[-1].split(":")[0]
    for prefix in PROFILE_PREFIXES:
        name = name.removeprefix(prefix)
    return name.removeprefix("anthropic.").rsplit("-v", 1)[0]


def _metrics_headers(result: ChatResult) -> dict[str, str]:
    return {"X-Amzn-Bedrock-Input-Token-Count": str(result.input_tokens), "X-Amzn-Bedrock-Output-Token-Count": str(result.output_tokens)}


class AnthropicMessages(Converse):
    name = "anthropic-messages"
    operations = frozenset({INVOKE_MODEL, INVOKE_MODEL_STREAM, CONVERSE, CONVERSE_STREAM, COUNT_TOKENS})
    invoke_guardrails = True

    def parse_invoke(self, ctx: InvokeContext[ChatModel], body: bytes | None = None) -> ChatTask:
        require_json(ctx.content_type, ctx.accept)
        return parse_anthropic(ctx.body if body is None else body, self.options(ctx.entry).json_from_prompt)

    async def _guarded(self, ctx: InvokeContext[ChatModel]) -> tuple[ChatTask, ConverseGuard | None]:
        """The task, and the guardrail the headers name with the input already assessed (masked input
        reaches the model masked)."""
        guardrail, body = guardrail_request(ctx.headers, ctx.body)
        task = await off_loop(self.parse_invoke, ctx, body)
        if guardrail is None:
            return task, None
        task, texts = guarded_texts(task, guardrail.tag_suffix)
        request = ChatRequest(task=task, guardrail=guardrail.config, guarded=texts)
        guard = await guard_input(ctx, request)
        return request.task, guard

    async def invoke_model(self, ctx: InvokeContext[ChatModel]) -> InvokeReply:
        task, guard = await self._guarded(ctx)
        message = {"id": f"msg_bdrk_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                   "model": _model_name(ctx.model_id)}
        if guard is not None and guard.input_outcome is not None and guard.input_outcome.blocked:
            body = {**message, "content": [{"type": "text", "text": guard.blocked_input_blocks()[0]["text"]}],
                    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0},
                    **response_fields(guard)}
            return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode())
        engine = await ctx.engine()
        result = await chat_calls.generate(engine, task)
        text = result.text
        if guard is not None:
            text = (await guard.check_output([{"text": text}], result.stop_reason))[0][0]["text"]
        body = {
            **message,
            "content": [{"type": "text", "text": text}],
            "stop_reason": result.stop_reason,
            "stop_sequence": result.stop_sequence,
            "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
            **(response_fields(guard) if guard is not None else {}),
        }
        return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode(), headers=_metrics_headers(result))

    async def invoke_model_stream(self, ctx: InvokeContext[ChatModel]) -> StreamReply:
        started = time.monotonic()
        task, guard = await self._guarded(ctx)
        headers = {"X-Amzn-Bedrock-Content-Type": "application/json"}
        model = _model_name(ctx.model_id)
        if guard is not None and guard.input_outcome is not None and guard.input_outcome.blocked:
            return StreamReply(events=_blocked_anthropic_events(guard, model, started), headers=headers)
        engine = await ctx.engine()
        stream = await chat_calls.open_stream(engine, task)
        return StreamReply(events=_anthropic_events(stream, model, started, guard), headers=headers)


def _chunk(event: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return "chunk", {"bytes": base64.b64encode(json.dumps(event, ensure_ascii=False).encode()).decode()}


async def _blocked_anthropic_events(guard: ConverseGuard, model: str, started: float) -> AsyncIterator[tuple[str, Any]]:
    """A blocked input on InvokeModelWithResponseStream: the blocked message as the whole answer."""
    yield _chunk({"type": "message_start", "message": {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})
    yield _chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    yield _chunk({"type": "content_block_delta", "index": 0,
                  "delta": {"type": "text_delta", "text": guard.blocked_input_blocks()[0]["text"]}})
    yield _chunk({"type": "content_block_stop", "index": 0})
    yield _chunk({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": 0}})
    latency = int((time.monotonic() - started) * 1000)
    yield _chunk({"type": "message_stop", **response_fields(guard), "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": 0, "outputTokenCount": 0, "invocationLatency": latency, "firstByteLatency": latency}})


async def _anthropic_events(stream: ChatStream, model: str, started: float,
                            guard: ConverseGuard | None = None) -> AsyncIterator[tuple[str, Any]]:
    """Anthropic's stream events. With a guardrail in `sync` mode (the default) the text is held back
    until the output has been assessed; `async` streams at once and the assessment follows."""
    live = guard is None or guard.stream_mode == "async"
    yield _chunk({
        "type": "message_start",
        "message": {"id": f"msg_bdrk_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": stream.input_tokens, "output_tokens": 1}},
    })
    yield _chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    first_byte: float | None = None
    async for delta in stream:
        if first_byte is None:
            first_byte = time.monotonic() - started
        if live:
            yield _chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}})
    result = stream.result
    assert result is not None  # set once the iteration ends
    if guard is not None:
        text = (await guard.check_output([{"text": result.text}], result.stop_reason))[0][0]["text"]
        if not live and text:
            yield _chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
    yield _chunk({"type": "content_block_stop", "index": 0})
    yield _chunk({"type": "message_delta", "delta": {"stop_reason": result.stop_reason, "stop_sequence": result.stop_sequence},
                  "usage": {"output_tokens": result.output_tokens}})
    latency = int((time.monotonic() - started) * 1000)
    yield _chunk({
        "type": "message_stop",
        **(response_fields(guard) if guard is not None else {}),
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": result.input_tokens, "outputTokenCount": result.output_tokens,
            "invocationLatency": latency, "firstByteLatency": int((first_byte if first_byte is not None else latency / 1000) * 1000),
        },
    })
