"""Converse, ConverseStream and Anthropic messages on the test profile's tiny Qwen2.5-VL, through a
real server and real boto3 clients. Random weights: checks are on shapes, counts, stop reasons,
event order and determinism, never on meaning."""

from __future__ import annotations

import base64
import json
import io

import pytest
from botocore.exceptions import ClientError

from images import image_bytes, shape_image

MODEL = "anthropic.claude-3-sonnet-20240229-v1:0"


def png(color=(200, 30, 30), size=(96, 64)) -> bytes:  # type: ignore[no-untyped-def]
    return image_bytes(shape_image(color, size))


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return response["output"]["message"]["content"][0]["text"]


# --- the seed's three Converse snippets, verbatim --------------------------------------------------
def test_seed_describe_image(bedrock) -> None:  # type: ignore[no-untyped-def]
    client = bedrock
    image_data = base64.b64encode(png()).decode()
    response = client.converse(
        modelId='anthropic.claude-3-sonnet-20240229-v1:0',
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "image": {
                            "format": "png",
                            "source": {"bytes": base64.b64decode(image_data)}
                        }
                    },
                    {"text": "この画像に写っているものを説明してください。"}
                ]
            }
        ]
    )
    print(response['output']['message']['content'][0]['text'])
    assert response["stopReason"] in ("end_turn", "max_tokens")
    usage = response["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0


def test_seed_document_to_json(bedrock) -> None:  # type: ignore[no-untyped-def]
    client = bedrock
    document_bytes = png((20, 20, 20), (200, 120))
    response = client.converse(
        modelId='anthropic.claude-3-sonnet-20240229-v1:0',
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "image": {
                            "format": "png",
                            "source": {"bytes": document_bytes}
                        }
                    },
                    {"text": "このドキュメントからすべてのテキストを抽出してJSON形式にしてください。"}
                ]
            }
        ]
    )
    answer = response['output']['message']['content'][0]['text']
    json.loads(answer)  # JSON-constrained decoding: a random model still answers valid JSON


def test_seed_compare_two_images(bedrock) -> None:  # type: ignore[no-untyped-def]
    client = bedrock
    image1_bytes, image2_bytes = png((200, 0, 0)), png((0, 0, 200))
    response = client.converse(
        modelId='anthropic.claude-3-sonnet-20240229-v1:0',
        messages=[
            {
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": {"bytes": image1_bytes}}},
                    {"image": {"format": "png", "source": {"bytes": image2_bytes}}},
                    {"text": "これら2つの製品画像を比較して、違いを列挙してください。"}
                ]
            }
        ]
    )
    one = bedrock.converse(modelId=MODEL, messages=[{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": image1_bytes}}}, {"text": "これら2つの製品画像を比較して、違いを列挙してください。"}]}])
    # the second image adds its visual tokens plus two vision markers
    assert response["usage"]["inputTokens"] - one["usage"]["inputTokens"] > 2


# --- behaviour ------------------------------------------------------------------------------------
def test_multi_turn_with_images_is_deterministic(bedrock) -> None:  # type: ignore[no-untyped-def]
    messages = [
        {"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": png()}}}, {"text": "what is this?"}]},
        {"role": "assistant", "content": [{"text": "a red ellipse"}]},
        {"role": "user", "content": [{"image": {"format": "jpeg", "source": {"bytes": image_bytes(shape_image(), "JPEG")}}},
                                     {"text": "and this one?"}]},
    ]
    first = bedrock.converse(modelId=MODEL, messages=messages, inferenceConfig={"maxTokens": 12})
    second = bedrock.converse(modelId="us." + MODEL, messages=messages, inferenceConfig={"maxTokens": 12})
    assert text_of(first) == text_of(second)
    assert first["usage"] == second["usage"]
    assert first["usage"]["outputTokens"] <= 12


def test_max_tokens_stop_reason(bedrock) -> None:  # type: ignore[no-untyped-def]
    response = bedrock.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "describe the image"}]}],
                                inferenceConfig={"maxTokens": 3})
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 3


def test_stop_sequence_ends_generation(bedrock) -> None:  # type: ignore[no-untyped-def]
    body = {"role": "user", "content": [{"text": "describe the image"}]}
    free = text_of(bedrock.converse(modelId=MODEL, messages=[body], inferenceConfig={"maxTokens": 20}))
    stop = next(ch for ch in free[2:] if ch.strip())  # a character the model is known to produce
    response = bedrock.converse(modelId=MODEL, messages=[body], inferenceConfig={"maxTokens": 20, "stopSequences": [stop]},
                                additionalModelResponseFieldPaths=["/stop_sequence"])
    assert response["stopReason"] == "stop_sequence"
    assert text_of(response) == free[: free.index(stop, 0)] if free.index(stop) >= 0 else True
    assert stop not in text_of(response)
    assert response["additionalModelResponseFields"] == {"stop_sequence": stop}


def test_seeded_sampling_is_reproducible(bedrock) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "describe the image"}]}],
                  inferenceConfig={"maxTokens": 10, "temperature": 1.0, "topP": 0.9},
                  additionalModelRequestFields={"top_k": 50, "seed": 7})
    assert text_of(bedrock.converse(**kwargs)) == text_of(bedrock.converse(**kwargs))


def test_usage_counts_match_the_tokenizer(bedrock) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path
    import os

    from transformers import AutoProcessor

    from outcrop.engines.vlm import hf_messages
    from outcrop.tasks.chat import ChatTask, ChatTurn, ImagePart, TextPart
    from outcrop.testing.builtin import materialize

    processor = AutoProcessor.from_pretrained(materialize("tiny-qwen2.5-vl", Path(os.environ["OUTCROP_CACHE_DIR"])))
    image = shape_image()
    task = ChatTask(turns=(ChatTurn("user", (ImagePart(image), TextPart("what is in this picture"))),), system="be brief")
    prompt = processor.apply_chat_template(hf_messages(task), tokenize=False, add_generation_prompt=True)
    expected = processor(text=[prompt], images=[image], return_tensors="pt")["input_ids"].shape[1]
    response = bedrock.converse(modelId=MODEL, system=[{"text": "be brief"}], inferenceConfig={"maxTokens": 8},
                                messages=[{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_bytes(image)}}},
                                                                       {"text": "what is in this picture"}]}])
    assert response["usage"]["inputTokens"] == expected
    out = processor.tokenizer(text_of(response), add_special_tokens=False)["input_ids"]
    assert abs(len(out) - response["usage"]["outputTokens"]) <= 2  # byte-level BPE may re-merge across tokens


def test_converse_stream_event_order(bedrock) -> None:  # type: ignore[no-untyped-def]
    response = bedrock.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": png()}}}, {"text": "describe the image"}]}],
        inferenceConfig={"maxTokens": 16})
    events = list(response["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(kinds[1:-3]) == {"contentBlockDelta"} and "contentBlockStart" not in kinds
    streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    whole = bedrock.converse(modelId=MODEL, messages=[{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": png()}}}, {"text": "describe the image"}]}], inferenceConfig={"maxTokens": 16})
    assert streamed == text_of(whole)
    assert events[-1]["metadata"]["usage"] == whole["usage"]
    assert events[-2]["messageStop"]["stopReason"] == whole["stopReason"]


def test_anthropic_invoke_model(bedrock) -> None:  # type: ignore[no-untyped-def]
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "system": "be brief", "temperature": 0.0,
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(png()).decode()}},
                {"type": "text", "text": "describe the image"}]}]}
    response = bedrock.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body))
    result = json.loads(response["body"].read())
    assert result["type"] == "message" and result["role"] == "assistant" and result["id"].startswith("msg_bdrk_")
    assert result["stop_reason"] == "max_tokens" and result["usage"]["output_tokens"] == 5
    assert result["model"] == "claude-3-haiku-20240307"
    stream = bedrock.invoke_model_with_response_stream(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body))
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
    types = [e["type"] for e in events]
    assert types[:2] == ["message_start", "content_block_start"] and types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == result["content"][0]["text"]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == result["usage"]["input_tokens"] and metrics["outputTokenCount"] == 5


# --- bad input ------------------------------------------------------------------------------------
def _pdf(pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    shape_image(size=(200, 280)).save(buffer, "PDF")
    return buffer.getvalue()


BAD = {
    "bmp format": ([{"role": "user", "content": [{"image": {"format": "bmp", "source": {"bytes": png()}}}, {"text": "x"}]}], {}, "enum"),
    "format lies": ([{"role": "user", "content": [{"image": {"format": "jpeg", "source": {"bytes": png()}}}, {"text": "x"}]}], {}, "format says"),
    "not an image": ([{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b"hello"}}}, {"text": "x"}]}], {}, "not a valid image"),
    "s3 image": ([{"role": "user", "content": [{"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k.png"}}}}, {"text": "x"}]}], {}, "s3Location"),
    "too many images": ([{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": png()}}}] * 21 + [{"text": "x"}]}], {}, "Too many images"),
    "image too big": ([{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_bytes(shape_image(size=(8001, 8)))}}}, {"text": "x"}]}], {}, "8000"),
    "empty messages": ([], {}, "empty"),
    "starts with assistant": ([{"role": "assistant", "content": [{"text": "hi"}]}], {}, "must start with a user message"),
    "same role twice": ([{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}], {}, "alternate"),
    "empty content": ([{"role": "user", "content": []}], {}, "is empty"),
    "temperature": ([{"role": "user", "content": [{"text": "a"}]}], {"inferenceConfig": {"temperature": 1.5}}, "temperature"),
    "maxTokens too big": ([{"role": "user", "content": [{"text": "a"}]}], {"inferenceConfig": {"maxTokens": 100000}}, "model limit of 512"),
    "unknown extra field": ([{"role": "user", "content": [{"text": "a"}]}], {"additionalModelRequestFields": {"foo": 1}}, "foo"),
    "document without text": ([{"role": "user", "content": [{"document": {"format": "txt", "name": "notes", "source": {"bytes": b"abc"}}}]}], {}, "text block"),
    "corrupt pdf": ([{"role": "user", "content": [{"document": {"format": "pdf", "name": "scan", "source": {"bytes": b"%PDF-1.4 broken"}}}, {"text": "x"}]}], {}, "corrupt"),
    "docx": ([{"role": "user", "content": [{"document": {"format": "docx", "name": "a", "source": {"bytes": b"PK"}}}, {"text": "x"}]}], {}, "not supported"),
    "tool blocks without toolConfig": ([{"role": "user", "content": [{"text": "a"}]}, {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]}, {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}]}}]}], {}, "toolConfig"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_validation_exception(bedrock_no_retry, case: str) -> None:  # type: ignore[no-untyped-def]
    messages, extra, needle = BAD[case]
    with pytest.raises(ClientError) as info:
        bedrock_no_retry.converse(modelId=MODEL, messages=messages, **extra)
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    assert needle.lower() in error["Message"].lower(), error["Message"]


def test_documents_are_read(bedrock) -> None:  # type: ignore[no-untyped-def]
    base = bedrock.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "summarise"}]}], inferenceConfig={"maxTokens": 2})
    pdf = bedrock.converse(modelId=MODEL, inferenceConfig={"maxTokens": 2}, messages=[{"role": "user", "content": [
        {"document": {"format": "pdf", "name": "scan", "source": {"bytes": _pdf()}}}, {"text": "summarise"}]}])
    txt = bedrock.converse(modelId=MODEL, inferenceConfig={"maxTokens": 2}, messages=[{"role": "user", "content": [
        {"document": {"format": "txt", "name": "notes", "source": {"bytes": b"a cat sitting on a sofa"}}}, {"text": "summarise"}]}])
    assert pdf["usage"]["inputTokens"] > base["usage"]["inputTokens"] + 6  # header text + one page image
    assert txt["usage"]["inputTokens"] > base["usage"]["inputTokens"]


def test_anthropic_bad_bodies(bedrock_no_retry) -> None:  # type: ignore[no-untyped-def]
    good = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    for change in ({"anthropic_version": "2023-06-01"}, {"max_tokens": 0}, {"temperature": 2},
                   {"messages": [{"role": "assistant", "content": "hi"}]}, {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}):
        with pytest.raises(ClientError) as info:
            bedrock_no_retry.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps({**good, **change}))
        assert info.value.response["Error"]["Code"] == "ValidationException", change


def test_tool_history_is_accepted_with_tool_config(bedrock) -> None:  # type: ignore[no-untyped-def]
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "weather for a city",
                                     "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}]}
    messages = [
        {"role": "user", "content": [{"text": "weather in Tokyo?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Tokyo"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 21}}]}}]},
    ]
    plain = bedrock.converse(modelId=MODEL, messages=messages[:1], inferenceConfig={"maxTokens": 4}, toolConfig=tools)
    response = bedrock.converse(modelId=MODEL, messages=messages, inferenceConfig={"maxTokens": 4}, toolConfig=tools)
    assert response["stopReason"] in ("end_turn", "max_tokens", "tool_use")
    assert response["usage"]["inputTokens"] > plain["usage"]["inputTokens"]  # the call and its result are in the prompt
