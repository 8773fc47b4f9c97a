"""Amazon Nova's native body on InvokeModel and InvokeModelWithResponseStream, through boto3."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from images import b64, image_bytes, shape_image

LITE, MICRO, NOVA2 = "amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0", "amazon.nova-2-lite-v1:0"
IMAGE = {"image": {"format": "png", "source": {"bytes": b64(image_bytes(shape_image()))}}}


def body(*content: dict, **fields: object) -> str:
    return json.dumps({"schemaVersion": "messages-v1",
                       "messages": [{"role": "user", "content": list(content) or [{"text": "describe the image"}]}],
                       **fields})


def invoke(client, model: str, payload: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.invoke_model(modelId=model, body=payload)
    assert response["contentType"] == "application/json"
    return json.loads(response["body"].read())


def refused(client, model: str, payload: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=model, body=payload)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]["Message"]


def test_invoke_shape_with_image_system_and_inference_config(bedrock) -> None:
    answer = invoke(bedrock, LITE, body(IMAGE, {"text": "describe the image"}, system=[{"text": "Be brief."}],
                                        inferenceConfig={"max_new_tokens": 8, "temperature": 0.5, "top_p": 0.9, "top_k": 20}))
    assert set(answer) == {"output", "stopReason", "usage"}
    message = answer["output"]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"][0]["text"], str)
    usage = answer["usage"]
    assert usage["outputTokens"] <= 8 and usage["inputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert usage["cacheReadInputTokenCount"] == usage["cacheWriteInputTokenCount"] == 0
    assert answer["stopReason"] in ("end_turn", "max_tokens")


def test_invoke_matches_converse_for_the_same_request(bedrock) -> None:
    native = invoke(bedrock, LITE, body({"text": "what is in this picture"}, inferenceConfig={"max_new_tokens": 12}))
    converse = bedrock.converse(modelId=LITE, messages=[{"role": "user", "content": [{"text": "what is in this picture"}]}],
                                inferenceConfig={"maxTokens": 12})
    assert native["output"]["message"]["content"][0]["text"] == converse["output"]["message"]["content"][0]["text"]
    assert native["usage"]["inputTokens"] == converse["usage"]["inputTokens"]


def test_nova2_spelling_and_documents(bedrock) -> None:
    document = {"document": {"format": "txt", "name": "notes", "source": {"bytes": b64("赤い車".encode())}}}
    answer = invoke(bedrock, NOVA2, json.dumps({"messages": [{"role": "user", "content": [document, {"text": "summarise"}]}],
                                                "inferenceConfig": {"maxTokens": 5, "topP": 0.5, "topK": 3}}))
    assert answer["usage"]["outputTokens"] <= 5


def test_stream_chunks(bedrock) -> None:
    response = bedrock.invoke_model_with_response_stream(
        modelId=LITE, body=body(IMAGE, {"text": "describe the image"}, inferenceConfig={"max_new_tokens": 16}))
    assert response["contentType"] == "application/json"
    events = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert deltas and all(d["contentBlockIndex"] == 0 and isinstance(d["delta"]["text"], str) for d in deltas)
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2]["messageStop"]["stopReason"] in ("end_turn", "max_tokens")
    last = events[-1]
    assert set(last["metadata"]["usage"]) == {"inputTokens", "outputTokens"}
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == last["metadata"]["usage"]["outputTokens"] <= 16
    streamed = "".join(d["delta"]["text"] for d in deltas)
    whole = invoke(bedrock, LITE, body(IMAGE, {"text": "describe the image"}, inferenceConfig={"max_new_tokens": 16}))
    assert streamed == whole["output"]["message"]["content"][0]["text"]


def test_micro_is_text_only(bedrock) -> None:
    assert invoke(bedrock, MICRO, body({"text": "hello"}, inferenceConfig={"max_new_tokens": 4}))["usage"]["outputTokens"] <= 4
    assert "doesn't support the image content block" in refused(bedrock, MICRO, body(IMAGE, {"text": "what is this"}))
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=MICRO, messages=[{"role": "user", "content": [
            {"image": {"format": "png", "source": {"bytes": image_bytes()}}}, {"text": "what is this"}]}])
    assert "doesn't support the image content block" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (json.dumps({"schemaVersion": "messages-v1"}), "#: required key [messages] not found"),
        (body(schemaVersion="messages-v2"), '#/schemaVersion: "messages-v2" is not a valid enum value'),
        (body(inferenceConfig={"max_new_tokens": 0}), "#/inferenceConfig/max_new_tokens: 0 is not greater or equal to 1"),
        (body(inferenceConfig={"temperature": 1.5}), "#/inferenceConfig/temperature: 1.5 is not less or equal to 1"),
        (body(inferenceConfig={"top_k": 500}), "#/inferenceConfig/top_k: 500 is not less or equal to 128"),
        (body(inferenceConfig={"max_new_tokens": 5, "maxTokens": 5}), "max_new_tokens and maxTokens are the same setting"),
        (body(inferenceConfig={"maxTokenCount": 5}), "#/inferenceConfig: extraneous key [maxTokenCount] is not permitted"),
        (body(anthropic_version="bedrock-2023-05-31"), "#: extraneous key [anthropic_version] is not permitted"),
        (json.dumps({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}), "must start with a user message"),
        (body({"video": {"format": "mp4", "source": {"bytes": base64.b64encode(b"x").decode()}}}, {"text": "what"}),
         "doesn't support the video content block"),
        (body({"image": {"format": "png", "source": {"bytes": "not base64!"}}}, {"text": "x"}), "is not valid base64"),
        (body(toolConfig={"tools": []}), "toolConfig is not supported on InvokeModel"),
    ],
)
def test_validation(bedrock, payload: str, message: str) -> None:
    assert message in refused(bedrock, LITE, payload)
