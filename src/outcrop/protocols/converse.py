"""Converse and ConverseStream over a vision-language chat engine.

Validates as Bedrock does (roles alternate and start with the user, limits on images and
documents, inference ranges), builds a `ChatTask`, and writes Bedrock's response or event stream.
Text blocks stream with no `contentBlockStart`; tool-use blocks get one, as on Bedrock.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from pydantic import Field

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import INTERVENED, ConverseGuard, GuardedText
from outcrop.protocols import chat_calls, output_intent
from outcrop.protocols.base import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    InvokeContext,
    InvokeReply,
    Protocol,
    StreamReply,
    unsupported_operation,
)
from outcrop.protocols.chat_content import ContentBudget, document_parts, image_part
from outcrop.protocols.count_tokens import count_reply, counted_body
from outcrop.protocols.converse_schema import ContentBlock, ConverseRequest, GuardrailConfig
from outcrop.protocols.offload import off_loop
from outcrop.registry.options import Options
from outcrop.protocols.validation import parse_body
from outcrop.tasks.chat import (
    ChatModel,
    ChatResult,
    ChatStream,
    ChatTask,
    ChatTurn,
    ImagePart,
    JsonPart,
    Part,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolResult,
    ToolSpec,
)

_UNSUPPORTED_BLOCKS = ("video", "audio", "reasoningContent", "citationsContent", "searchResult")
_EXTRA_FIELDS: dict[str, tuple[type, int, int]] = {"top_k": (int, 0, 500), "seed": (int, 0, 2**32 - 1), "ocr": (bool, 0, 1)}


@dataclass
class ChatRequest:
    """A parsed request: the task plus what the response writer needs."""

    task: ChatTask
    response_paths: list[str] = field(default_factory=list)
    guardrail: GuardrailConfig | None = None
    # What a guardrail assesses on input: the guardContent blocks if any (texts and image bytes),
    # else every message text.
    guarded: list[GuardedText] = field(default_factory=list)
    guarded_images: list[bytes] = field(default_factory=list)


def check_roles(roles: list[str]) -> None:
    if not roles:
        raise ValidationException("The messages field is empty. Add at least one user message and try again.")
    if roles[0] != "user":
        raise ValidationException(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
        )
    for before, after in zip(roles, roles[1:]):
        if before == after:
            raise ValidationException(
                "A conversation must alternate between user and assistant roles. Make sure the conversation "
                "alternates between user and assistant roles and try again."
            )


def _block_parts(block: ContentBlock, where: str, budget: ContentBudget, has_tools: bool) -> list[Part]:
    if block.text is not None:
        return [TextPart(block.text)]
    if block.guardContent is not None:
        guard = block.guardContent
        if guard.text is not None:
            return [TextPart(guard.text.text)]
        assert guard.image is not None
        if guard.image.source.bytes is None:
            raise ValidationException(f"{where}.guardContent.image.source: s3Location is not supported by this server. Send the image as bytes.")
        return [image_part(guard.image.source.bytes, guard.image.format, f"{where}.guardContent.image", budget)]
    if block.image is not None:
        if block.image.source.bytes is None:
            raise ValidationException(f"{where}.image.source: s3Location is not supported by this server. Send the image as bytes.")
        return [image_part(block.image.source.bytes, block.image.format, f"{where}.image", budget)]
    if block.document is not None:
        doc, src = block.document, block.document.source
        if src.s3Location is not None:
            raise ValidationException(f"{where}.document.source: s3Location is not supported by this server. Send the document as bytes.")
        text = src.text if src.text is not None else (
            "\n".join(c.get("text", "") for c in src.content) if src.content is not None else None
        )
        raw = None
        if src.bytes is not None:
            from outcrop.protocols.images import decode_base64

            raw = decode_base64(src.bytes, f"{where}.document", 4_500_000)
        return document_parts(doc.format, doc.name, raw, text, f"{where}.document", budget)
    if block.toolUse is not None or block.toolResult is not None:
        if not has_tools:
            raise ValidationException("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
        if block.toolUse is not None:
            use = block.toolUse
            arguments = use.input if isinstance(use.input, dict) else {"value": use.input}
            return [ToolCall(id=use.toolUseId, name=use.name, arguments=arguments)]
        result = block.toolResult
        assert result is not None
        content: list[TextPart | JsonPart] = []
        images: list[Part] = []
        for i, item in enumerate(result.content):
            if "text" in item:
                content.append(TextPart(str(item["text"])))
            elif "json" in item:
                content.append(JsonPart(item["json"]))
            elif "image" in item and isinstance(item["image"], dict):
                img = item["image"]
                images.append(image_part(str(img.get("source", {}).get("bytes", "")), img.get("format", "png"),
                                         f"{where}.toolResult.content.{i}.image", budget))
            else:
                raise ValidationException(f"{where}.toolResult.content.{i}: only text, json and image results are supported.")
        return [ToolResult(id=result.toolUseId, content=tuple(content), status=result.status), *images]
    for name in _UNSUPPORTED_BLOCKS:
        if getattr(block, name) is not None:
            raise ValidationException(f"{where}: this model doesn't support the {name} content block. Remove it and try again.")
    return []  # cachePoint: no local meaning


def _extra_fields(fields: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (fields or {}).items():
        if key not in _EXTRA_FIELDS:
            raise ValidationException(
                f"Malformed input request: #: extraneous key [{key}] is not permitted in additionalModelRequestFields "
                f"(this model accepts {', '.join(sorted(_EXTRA_FIELDS))}), please reformat your input and try again."
            )
        kind, low, high = _EXTRA_FIELDS[key]
        if kind is bool:
            if not isinstance(value, bool):
                raise ValidationException(f"additionalModelRequestFields.{key} must be true or false.")
            out[key] = value
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationException(f"additionalModelRequestFields.{key} must be an integer from {low} to {high}.")
        out[key] = value
    return out


def _last_user_text(turns: tuple[ChatTurn, ...]) -> str:
    last_user = next((t for t in reversed(turns) if t.role == "user"), None)
    return " ".join(p.text for p in last_user.parts if isinstance(p, TextPart)) if last_user else ""


def asks_for_json(turns: tuple[ChatTurn, ...]) -> bool:
    """The last user turn asks for the answer in JSON (protocols/output_intent.py has the rule)."""
    return output_intent.asks_for_json(_last_user_text(turns))


def asks_for_ocr(turns: tuple[ChatTurn, ...], flag: bool | None = None) -> bool:
    """Text extraction from an image: `flag` (additionalModelRequestFields.ocr) when given, else the
    last user turn has an image and asks for extraction, OCR, transcription or JSON."""
    last_user = next((t for t in reversed(turns) if t.role == "user"), None)
    if last_user is None or not any(isinstance(p, ImagePart) for p in last_user.parts):
        return False
    if flag is not None:
        return flag
    return output_intent.asks_for_text_reading(_last_user_text(turns))


def parse_converse(body: bytes, json_from_prompt: bool = True) -> ChatRequest:
    request = parse_body(ConverseRequest, body)
    if request.promptVariables is not None:
        raise ValidationException("promptVariables can only be used with a prompt resource ARN as the model id.")
    messages = request.messages or []
    check_roles([m.role for m in messages])
    tools = [t.toolSpec for t in (request.toolConfig.tools if request.toolConfig else []) if t.toolSpec is not None]
    if request.toolConfig and any(t.systemTool is not None for t in request.toolConfig.tools):
        raise ValidationException("systemTool tools are not supported by this model.")
    budget = ContentBudget()
    turns: list[ChatTurn] = []
    explicit: list[GuardedText] = []
    explicit_images: list[bytes] = []
    every_text: list[GuardedText] = []
    for i, message in enumerate(messages):
        if not message.content:
            raise ValidationException(
                f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to "
                "the content field and try again."
            )
        parts: list[Part] = []
        for j, block in enumerate(message.content):
            if message.role == "assistant" and (block.image is not None or block.document is not None):
                raise ValidationException(f"messages.{i}.content.{j}: images and documents can only be sent in user messages.")
            if block.text is not None:
                every_text.append(GuardedText(i, len(parts), block.text))
            elif block.guardContent is not None and block.guardContent.text is not None:
                guard_text = block.guardContent.text
                explicit.append(GuardedText(i, len(parts), guard_text.text, tuple(guard_text.qualifiers or ())))
            parts.extend(_block_parts(block, f"messages.{i}.content.{j}", budget, bool(tools)))
            if block.guardContent is not None and block.guardContent.image is not None:
                # checked by _block_parts (format, size, decodes): the same bytes go to the guardrail
                explicit_images.append(base64.b64decode(block.guardContent.image.source.bytes or ""))
        if any(b.document is not None for b in message.content) and not any(b.text for b in message.content):
            raise ValidationException(
                f"messages.{i}: a message with a document must also contain a text block. Add a text block and try again."
            )
        results = sum(b.toolResult is not None for b in message.content)
        if results and results > sum(isinstance(p, ToolCall) for p in (turns[-1].parts if turns else ())):
            raise ValidationException(
                f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
            )
        turns.append(ChatTurn(role=message.role, parts=tuple(parts)))
    system_texts = []
    for k, system_block in enumerate(request.system or []):
        if system_block.text:
            system_texts.append(system_block.text)
        elif system_block.guardContent is not None:
            if system_block.guardContent.text is None:
                raise ValidationException(f"system.{k}.guardContent: only text guard content is supported in the system prompt.")
            guard_text = system_block.guardContent.text
            system_texts.append(guard_text.text)
            explicit.append(GuardedText(None, k, guard_text.text, tuple(guard_text.qualifiers or ())))
    system = "\n".join(system_texts) or None
    config = request.inferenceConfig
    stops = tuple(config.stopSequences or ()) if config else ()
    if any(not s for s in stops):
        raise ValidationException("inferenceConfig.stopSequences: each stop sequence must be at least 1 character long.")
    extra = _extra_fields(request.additionalModelRequestFields)
    json_output = False
    if request.outputConfig and request.outputConfig.textFormat:
        for structure in request.outputConfig.textFormat.structure.values():
            try:
                json.loads(structure.schema_)
            except json.JSONDecodeError:
                raise ValidationException("outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON.") from None
        json_output = True
    turns_t = tuple(turns)
    if json_from_prompt and not tools and asks_for_json(turns_t):
        json_output = True
    paths = request.additionalModelResponseFieldPaths or []
    for path in paths:
        if not path.startswith("/") or len(path) > 256:
            raise ValidationException(f"additionalModelResponseFieldPaths: '{path}' is not a valid JSON Pointer.")
    task = ChatTask(
        turns=turns_t,
        system=system,
        max_tokens=config.maxTokens if config else None,
        temperature=config.temperature if config else None,
        top_p=config.topP if config else None,
        top_k=extra.get("top_k"),
        seed=extra.get("seed"),
        stop_sequences=stops,
        json_output=json_output,
        tools=tuple(ToolSpec(t.name, t.description, t.inputSchema.get("json", {})) for t in tools),
        tool_choice=_tool_choice(request.toolConfig.toolChoice if request.toolConfig else None),
        ocr=asks_for_ocr(turns_t, extra.get("ocr")),
    )
    has_guard_content = bool(explicit or explicit_images)
    return ChatRequest(task=task, response_paths=paths,
                       guardrail=request.guardrailConfig, guarded=explicit if has_guard_content else every_text,
                       guarded_images=explicit_images)


def _tool_choice(choice: dict[str, Any] | None) -> ToolChoice:
    if choice and "any" in choice:
        return ToolChoice("any")
    if choice and isinstance(choice.get("tool"), dict):
        return ToolChoice("tool", choice["tool"].get("name"))
    return ToolChoice()


def tool_use_id(call: ToolCall) -> str:
    return call.id if call.id.startswith("tooluse_") else f"tooluse_{call.id}"


def output_blocks(result: ChatResult) -> tuple[list[dict[str, Any]], str]:
    """Converse content blocks and stop reason for a finished generation."""
    blocks: list[dict[str, Any]] = [{"text": result.text}] if result.text or not result.tool_calls else []
    blocks += [{"toolUse": {"toolUseId": tool_use_id(c), "name": c.name, "input": c.arguments}} for c in result.tool_calls]
    return blocks, result.stop_reason


def _response_fields(result: ChatResult, paths: list[str]) -> dict[str, Any] | None:
    available = {"/stop_sequence": ("stop_sequence", result.stop_sequence)}
    fields = {available[p][0]: available[p][1] for p in paths if p in available}
    return fields or None


class ConverseOptions(Options):
    json_from_prompt: bool = Field(True, description="A prompt that asks for JSON gets JSON-constrained decoding.")


class Converse(Protocol[ChatModel]):
    engine_interface = ChatModel
    Options = ConverseOptions
    name = "converse"
    operations = frozenset({CONVERSE, CONVERSE_STREAM, COUNT_TOKENS})
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT", "IMAGE")
    output_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)

    def parse(self, body: bytes, json_from_prompt: bool = True) -> ChatRequest:
        return parse_converse(body, json_from_prompt)

    async def _parse(self, ctx: InvokeContext[ChatModel], body: bytes | None = None) -> ChatRequest:
        """The parsed request; images and documents decode on the parse pool, not on the event loop."""
        return await off_loop(self.parse, ctx.body if body is None else body, self.options(ctx.entry).json_from_prompt)

    def parse_invoke(self, ctx: InvokeContext[ChatModel], body: bytes | None = None) -> ChatTask:
        """The task of an InvokeModel body, for families that take one."""
        raise unsupported_operation("InvokeModel")

    async def count_tokens(self, ctx: InvokeContext[ChatModel]) -> InvokeReply:
        kind, body = counted_body(ctx.body)
        task = await off_loop(self.parse_invoke, ctx, body) if kind == "invokeModel" else (await self._parse(ctx, body)).task
        engine = await ctx.engine()
        return InvokeReply(body=count_reply(await engine.count_input_tokens(task)))

    async def converse(self, ctx: InvokeContext[ChatModel]) -> InvokeReply:
        started = time.monotonic()
        request = await self._parse(ctx)
        guard = await guard_input(ctx, request)
        if guard is not None and guard.input_outcome is not None and guard.input_outcome.blocked:
            blocked = _blocked_response(guard, started)
            return InvokeReply(body=json.dumps(blocked, ensure_ascii=False).encode())
        engine = await ctx.engine()
        result = await chat_calls.generate(engine, request.task)
        blocks, stop_reason = output_blocks(result)
        if guard is not None:
            blocks, stop_reason = await guard.check_output(blocks, stop_reason)
        response: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": blocks}},
            "stopReason": stop_reason,
            "usage": _usage(result),
            "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
            **(guard.trace_fields() if guard is not None else {}),
        }
        fields = _response_fields(result, request.response_paths)
        if fields:
            response["additionalModelResponseFields"] = fields
        return InvokeReply(body=json.dumps(response, ensure_ascii=False).encode())

    async def converse_stream(self, ctx: InvokeContext[ChatModel]) -> StreamReply:
        started = time.monotonic()
        request = await self._parse(ctx)
        guard = await guard_input(ctx, request)
        if guard is not None and guard.input_outcome is not None and guard.input_outcome.blocked:
            return StreamReply(events=_blocked_events(guard, started))
        engine = await ctx.engine()
        stream = await chat_calls.open_stream(engine, request.task)
        return StreamReply(events=_converse_events(stream, request, started, guard))


async def guard_input(ctx: InvokeContext[ChatModel], request: ChatRequest) -> ConverseGuard | None:
    """Resolve the request's guardrail and assess its input; masked input replaces the task's texts."""
    if request.guardrail is None:
        return None
    guard = await ConverseGuard.open(ctx.guardrails, request.guardrail)
    outcome = await guard.check_input(request.guarded, request.guarded_images)
    if not outcome.blocked and outcome.action != "NONE":
        turns = [list(turn.parts) for turn in request.task.turns]
        system = request.task.system
        for guarded, masked in zip(request.guarded, outcome.masked):
            if guarded.turn is None:
                if system is not None:
                    system = system.replace(guarded.text, masked)
            else:  # the guarded text may be a tagged part of the text part (InvokeModel's tagSuffix)
                part = turns[guarded.turn][guarded.part]
                assert isinstance(part, TextPart)
                turns[guarded.turn][guarded.part] = TextPart(part.text.replace(guarded.text, masked))
        new_turns = tuple(replace(turn, parts=tuple(parts)) for turn, parts in zip(request.task.turns, turns))
        request.task = replace(request.task, turns=new_turns, system=system)
    return guard


def _blocked_response(guard: ConverseGuard, started: float) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": guard.blocked_input_blocks()}},
        "stopReason": INTERVENED,
        "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
        "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
        **guard.trace_fields(),
    }


async def _blocked_events(guard: ConverseGuard, started: float) -> AsyncIterator[tuple[str, Any]]:
    """A blocked input as ConverseStream answers it: the blocked message as the one text block."""
    response = _blocked_response(guard, started)
    yield "messageStart", {"role": "assistant"}
    yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": guard.blocked_input_blocks()[0]["text"]}}
    yield "contentBlockStop", {"contentBlockIndex": 0}
    yield "messageStop", {"stopReason": INTERVENED}
    yield "metadata", {key: response[key] for key in ("usage", "metrics", "trace") if key in response}


def _usage(result: ChatResult) -> dict[str, int]:
    return {
        "inputTokens": result.input_tokens,
        "outputTokens": result.output_tokens,
        "totalTokens": result.input_tokens + result.output_tokens,
    }


async def _converse_events(stream: ChatStream, request: ChatRequest, started: float,
                           guard: ConverseGuard | None = None) -> AsyncIterator[tuple[str, Any]]:
    """The event stream. With a guardrail in `sync` mode (the default) the text is held back until
    the output has been assessed; in `async` mode it streams at once and the assessment follows."""
    yield "messageStart", {"role": "assistant"}
    live = guard is None or guard.stream_mode == "async"
    sent_text = False
    async for delta in stream:
        if live:
            sent_text = True
            yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": delta}}
    result = stream.result
    assert result is not None  # set once the iteration ends
    blocks, stop_reason = output_blocks(result)
    if guard is not None:
        blocks, stop_reason = await guard.check_output(blocks, stop_reason)
    index = 0
    text_block = next((b["text"] for b in blocks if "text" in b), None)
    if sent_text or text_block is not None or not blocks:
        if not sent_text:
            yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text_block or ""}}
        yield "contentBlockStop", {"contentBlockIndex": 0}
        index = 1
    for block in blocks:
        if "toolUse" not in block:
            continue
        call = block["toolUse"]
        yield "contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": call["toolUseId"], "name": call["name"]}}}
        yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": json.dumps(call["input"], ensure_ascii=False)}}}
        yield "contentBlockStop", {"contentBlockIndex": index}
        index += 1
    stop: dict[str, Any] = {"stopReason": stop_reason}
    fields = _response_fields(result, request.response_paths)
    if fields:
        stop["additionalModelResponseFields"] = fields
    yield "messageStop", stop
    yield "metadata", {"usage": _usage(result), "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
                       **(guard.trace_fields() if guard is not None else {})}


def with_task(request: ChatRequest, **changes: Any) -> ChatRequest:
    return replace(request, task=replace(request.task, **changes))
