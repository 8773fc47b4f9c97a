"""CountTokens (`POST /model/{modelId}/count-tokens`) through real boto3: the count is the prompt the
model would see -- the same number the same request reports as usage -- for Converse input and for
an Anthropic InvokeModel body, images included; Bedrock's refusals for other models and bad bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from images import image_bytes, shape_image

CLAUDE = "anthropic.claude-3-sonnet-20240229-v1:0"
NOVA = "amazon.nova-lite-v1:0"


def _messages(with_image: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"text": "この画像に写っているものを説明してください。"}]
    if with_image:
        content.insert(0, {"image": {"format": "png", "source": {"bytes": image_bytes(shape_image((200, 30, 30), (96, 64)))}}})
    return [{"role": "user", "content": content}]


@pytest.mark.parametrize("model_id", [CLAUDE, NOVA])
@pytest.mark.parametrize("with_image", [False, True])
def test_converse_count_matches_usage(bedrock: Any, model_id: str, with_image: bool) -> None:
    system = [{"text": "You are terse."}]
    messages = _messages(with_image)
    counted = bedrock.count_tokens(modelId=model_id, input={"converse": {"messages": messages, "system": system}})
    usage = bedrock.converse(modelId=model_id, messages=messages, system=system, inferenceConfig={"maxTokens": 2})["usage"]
    assert counted["inputTokens"] == usage["inputTokens"] > 0


def test_an_image_and_tools_count(bedrock: Any) -> None:
    plain = bedrock.count_tokens(modelId=CLAUDE, input={"converse": {"messages": _messages(False)}})["inputTokens"]
    pictured = bedrock.count_tokens(modelId=CLAUDE, input={"converse": {"messages": _messages(True)}})["inputTokens"]
    tool = {"toolSpec": {"name": "lookup", "description": "Look a word up.",
                         "inputSchema": {"json": {"type": "object", "properties": {"word": {"type": "string"}}}}}}
    tooled = bedrock.count_tokens(modelId=CLAUDE, input={"converse": {"messages": _messages(False),
                                                                      "toolConfig": {"tools": [tool]}}})["inputTokens"]
    assert pictured > plain and tooled > plain


def test_invoke_model_body_count_matches_usage(bedrock: Any) -> None:
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2,
                       "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]})
    counted = bedrock.count_tokens(modelId=CLAUDE, input={"invokeModel": {"body": body}})["inputTokens"]
    answer = json.loads(bedrock.invoke_model(modelId=CLAUDE, body=body, contentType="application/json")["body"].read())
    assert counted == answer["usage"]["input_tokens"] > 0


def _error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as excinfo:
        call()
    error = excinfo.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"]


def test_refusals(bedrock_no_retry: Any) -> None:
    client = bedrock_no_retry
    code, status, message = _error(lambda: client.count_tokens(
        modelId="amazon.titan-embed-image-v1", input={"invokeModel": {"body": json.dumps({"inputText": "hi"})}}))
    assert (code, status) == ("ValidationException", 400) and "counting tokens" in message
    # Nova's Converse-only protocol takes no InvokeModel body.
    code, status, _ = _error(lambda: client.count_tokens(modelId=NOVA, input={"invokeModel": {"body": b"{}"}}))
    assert (code, status) == ("ValidationException", 400)
    code, status, message = _error(lambda: client.count_tokens(
        modelId=CLAUDE, input={"converse": {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}}))
    assert (code, status) == ("ValidationException", 400) and "start with a user message" in message
    code, status, _ = _error(lambda: client.count_tokens(modelId=CLAUDE, input={"invokeModel": {"body": b"not json"}}))
    assert (code, status) == ("ValidationException", 400)
    code, status, message = _error(lambda: client.count_tokens(modelId="no.such-model-v1:0",
                                                               input={"converse": {"messages": _messages(False)}}))
    assert (code, status, message) == ("ValidationException", 400, "The provided model identifier is invalid.")
