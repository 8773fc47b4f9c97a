"""Titan Text Embeddings V2 and Cohere Embed through a real server and real boto3 clients."""

from __future__ import annotations

import json
import math

import pytest
from botocore.exceptions import ClientError

TITAN = "amazon.titan-embed-text-v2:0"


def invoke(client, model: str, **body):  # type: ignore[no-untyped-def]
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(response["body"].read()), response


def refused(client, model: str, body: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=model, body=json.dumps(body))
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


# -- Titan Text Embeddings V2 -------------------------------------------------------------------------
def test_titan_default_shape_and_headers(bedrock) -> None:
    body, response = invoke(bedrock, TITAN, inputText="夕日に照らされた穏やかな山の風景")
    assert set(body) == {"embedding", "inputTextTokenCount", "embeddingsByType"}
    assert len(body["embedding"]) == 1024 and abs(norm(body["embedding"]) - 1) < 1e-4
    assert body["embeddingsByType"] == {"float": body["embedding"]}
    assert body["inputTextTokenCount"] > 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(body["inputTextTokenCount"])


@pytest.mark.parametrize("dimensions", [256, 512, 1024])
def test_titan_dimensions_are_leading_dimensions(bedrock, dimensions: int) -> None:
    full, _ = invoke(bedrock, TITAN, inputText="a red car", normalize=False)
    short, _ = invoke(bedrock, TITAN, inputText="a red car", dimensions=dimensions, normalize=False)
    assert len(short["embedding"]) == dimensions
    assert short["embedding"] == pytest.approx(full["embedding"][:dimensions], rel=1e-5, abs=1e-6)
    normalized, _ = invoke(bedrock, TITAN, inputText="a red car", dimensions=dimensions)
    assert abs(norm(normalized["embedding"]) - 1) < 1e-4


def test_titan_normalize_false_keeps_the_raw_length(bedrock) -> None:
    raw, _ = invoke(bedrock, TITAN, inputText="a blue sky", normalize=False)
    unit, _ = invoke(bedrock, TITAN, inputText="a blue sky")
    assert abs(norm(raw["embedding"]) - 1) > 1e-3
    assert cosine(raw["embedding"], unit["embedding"]) > 0.9999


def test_titan_binary_and_float(bedrock) -> None:
    body, _ = invoke(bedrock, TITAN, inputText="a cat sitting on a sofa", dimensions=256, embeddingTypes=["float", "binary"])
    floats, bits = body["embeddingsByType"]["float"], body["embeddingsByType"]["binary"]
    assert floats == body["embedding"] and len(bits) == 256
    assert bits == [1 if x > 0 else 0 for x in floats]
    only_binary, _ = invoke(bedrock, TITAN, inputText="a cat sitting on a sofa", dimensions=256, embeddingTypes=["binary"])
    assert set(only_binary["embeddingsByType"]) == {"binary"} and only_binary["embeddingsByType"]["binary"] == bits


def test_titan_similar_texts_are_closer_than_different_ones(bedrock) -> None:
    a = invoke(bedrock, TITAN, inputText="赤い車")[0]["embedding"]
    again = invoke(bedrock, TITAN, inputText="赤い車")[0]["embedding"]
    other = invoke(bedrock, TITAN, inputText="0123456789 {}[]")[0]["embedding"]
    assert cosine(a, again) > 0.99999
    assert cosine(a, other) < 0.99999


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "#: required key [inputText] not found"),
        ({"inputText": ""}, "#/inputText: expected minLength: 1, actual: 0"),
        ({"inputText": "x" * 50_001}, "#/inputText: expected maxLength: 50000, actual: 50001"),
        ({"inputText": "hi", "dimensions": 384}, "#/dimensions: 384 is not a valid enum value"),
        ({"inputText": "hi", "normalize": "yes"}, "#/normalize: expected type: Boolean, found: String"),
        ({"inputText": "hi", "embeddingTypes": ["int8"]}, '#/embeddingTypes/0: "int8" is not a valid enum value'),
        ({"inputText": "hi", "embeddingTypes": []}, "#/embeddingTypes: expected minimum item count: 1, found: 0"),
        ({"inputText": "hi", "outputEmbeddingLength": 256}, "#: extraneous key [outputEmbeddingLength] is not permitted"),
    ],
)
def test_titan_validation(bedrock, body: dict, message: str) -> None:
    assert message in refused(bedrock, TITAN, body)


def test_titan_token_limit(bedrock) -> None:
    # Spaced digits are one token each for the tiny model's tokenizer: 9000 tokens in 18,000 characters.
    message = refused(bedrock, TITAN, {"inputText": " ".join("7" * 9000)})
    assert message.startswith("400 Bad Request: Too many input tokens. Max input tokens: 8192, request input token count: ")
    count = int(message.rsplit(" ", 1)[1])
    assert count > 8192


def test_titan_does_not_stream_or_converse(bedrock) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.invoke_model_with_response_stream(modelId=TITAN, body=json.dumps({"inputText": "hi"}))
    assert caught.value.response["Error"]["Message"] == "The model is unsupported for streaming."
