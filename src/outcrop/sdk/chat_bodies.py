"""Chat requests per API: Converse (every chat model) or Anthropic messages bodies on InvokeModel
(Claude ids, for callers who want Claude's own wire format), and their replies and stream events
turned into one shape. The only place that knows the two."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from outcrop.sdk.errors import UnsupportedOptionError
from outcrop.sdk.models import base_model_id
from outcrop.sdk.results import Usage

ChatApi = Literal["converse", "invoke"]
ANTHROPIC_VERSION = "bedrock-2023-05-31"
# Anthropic bodies require max_tokens; Converse leaves it to the model when the caller gives none.
ANTHROPIC_DEFAULT_MAX_TOKENS = 512


def uses_anthropic_body(api: ChatApi, model_id: str) -> bool:
    """Anthropic messages on InvokeModel only when asked for and the model is Claude; everything else converses."""
    return api == "invoke" and base_model_id(model_id).startswith("anthropic.")


@dataclass(frozen=True)
class Reply:
    text: str
    stop_reason: str | None
    usage: Usage
    request_id: str | None


@dataclass(frozen=True)
class StreamEvent:
    """One normalised stream event: a text piece, the stop reason, or the token counts."""

    text: str | None = None
    stop_reason: str | None = None
    usage: Usage | None = None


def converse_request(messages: list[dict[str, Any]], system: str | None, max_tokens: int | None,
                     temperature: float | None) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": messages}
    if system:
        request["system"] = [{"text": system}]
    config = {k: v for k, v in (("maxTokens", max_tokens), ("temperature", temperature)) if v is not None}
    if config:
        request["inferenceConfig"] = config
    return request


def _anthropic_block(block: dict[str, Any]) -> dict[str, Any]:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "image" in block:
        image = block["image"]
        return {"type": "image", "source": {"type": "base64", "media_type": f"image/{image['format']}",
                                            "data": base64.b64encode(image["source"]["bytes"]).decode()}}
    raise UnsupportedOptionError("Anthropic bodies on InvokeModel carry text and images only; send documents "
                                 "with chat_api='converse'")


def anthropic_body(messages: list[dict[str, Any]], system: str | None, max_tokens: int | None,
                   temperature: float | None) -> dict[str, Any]:
    """The Converse-style messages as an Anthropic messages body."""
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": [{"role": m["role"], "content": [_anthropic_block(b) for b in m["content"]]} for m in messages],
    }
    if system:
        body["system"] = system
    if temperature is not None:
        body["temperature"] = temperature
    return body


def converse_reply(response: dict[str, Any]) -> Reply:
    tokens = response.get("usage", {})
    text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
    return Reply(text, response.get("stopReason"),
                 Usage(input_tokens=tokens.get("inputTokens", 0), output_tokens=tokens.get("outputTokens", 0)),
                 response.get("ResponseMetadata", {}).get("RequestId"))


def anthropic_reply(payload: dict[str, Any], request_id: str | None) -> Reply:
    tokens = payload.get("usage", {})
    text = "".join(block.get("text", "") for block in payload.get("content", []) if block.get("type") == "text")
    return Reply(text, payload.get("stop_reason"),
                 Usage(input_tokens=tokens.get("input_tokens", 0), output_tokens=tokens.get("output_tokens", 0)), request_id)


def converse_events(stream: Any) -> Iterator[StreamEvent]:
    for event in stream:
        if "contentBlockDelta" in event:
            piece = event["contentBlockDelta"].get("delta", {}).get("text")
            if piece:
                yield StreamEvent(text=piece)
        elif "messageStop" in event:
            yield StreamEvent(stop_reason=event["messageStop"].get("stopReason"))
        elif "metadata" in event:
            tokens = event["metadata"].get("usage", {})
            yield StreamEvent(usage=Usage(input_tokens=tokens.get("inputTokens", 0), output_tokens=tokens.get("outputTokens", 0)))


def anthropic_events(stream: Any) -> Iterator[StreamEvent]:
    """InvokeModelWithResponseStream `chunk`s carrying Anthropic's stream events; input tokens come in
    message_start, output tokens and the stop reason in message_delta."""
    input_tokens = 0
    for event in stream:
        if "chunk" not in event:
            continue
        data = json.loads(event["chunk"]["bytes"])
        kind = data.get("type")
        if kind == "message_start":
            input_tokens = data.get("message", {}).get("usage", {}).get("input_tokens", 0)
        elif kind == "content_block_delta" and data.get("delta", {}).get("type") == "text_delta":
            if data["delta"].get("text"):
                yield StreamEvent(text=data["delta"]["text"])
        elif kind == "message_delta":
            yield StreamEvent(stop_reason=data.get("delta", {}).get("stop_reason"),
                              usage=Usage(input_tokens=input_tokens,
                                          output_tokens=data.get("usage", {}).get("output_tokens", 0)))
