"""Titan multimodal embeddings through a real server and real boto3 clients."""

from __future__ import annotations

import json
import math
import runpy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from images import b64, image_bytes, shape_image

MODEL = "amazon.titan-embed-image-v1"
SEED = Path(__file__).parent / "seed" / "embedding_search.py"


def embed(client, **body):  # type: ignore[no-untyped-def]
    response = client.invoke_model(modelId=MODEL, body=json.dumps(body))
    return json.loads(response["body"].read()), response


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


def test_seed_embedding_functions_run_verbatim(server, tmp_path: Path) -> None:
    namespace = runpy.run_path(str(SEED))
    query = namespace["query_embedding"]
    assert len(query) == 1024 and abs(norm(query) - 1) < 1e-4
    path = tmp_path / "red_car.png"
    path.write_bytes(image_bytes(shape_image((200, 0, 0))))
    image_vector = namespace["get_image_embedding"](str(path))
    assert len(image_vector) == 1024 and abs(norm(image_vector) - 1) < 1e-4
    assert image_vector != query


def test_response_shape_and_headers(bedrock) -> None:
    body, response = embed(bedrock, inputText="a red car")
    assert set(body) == {"embedding", "inputTextTokenCount", "message"}
    assert body["message"] is None
    assert body["inputTextTokenCount"] > 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["contentType"] == "application/json"
    assert response["ResponseMetadata"]["RequestId"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(body["inputTextTokenCount"])


@pytest.mark.parametrize("length", [256, 384, 1024])
def test_output_lengths(bedrock, length: int) -> None:
    body, _ = embed(bedrock, inputText="赤い車", embeddingConfig={"outputEmbeddingLength": length})
    assert len(body["embedding"]) == length
    assert abs(norm(body["embedding"]) - 1) < 1e-4


def test_deterministic_bit_for_bit(bedrock) -> None:
    image = b64(image_bytes())
    first = [embed(bedrock, inputText="夕日の山", inputImage=image)[0]["embedding"] for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert embed(bedrock, inputText="夕日の山 ")[0]["embedding"] != embed(bedrock, inputText="夕日の山")[0]["embedding"]


def test_text_and_image_is_their_average(bedrock) -> None:
    image = b64(image_bytes(shape_image((0, 0, 200), shape="rectangle")))
    text_vec = embed(bedrock, inputText="a blue box")[0]["embedding"]
    image_vec = embed(bedrock, inputImage=image)[0]["embedding"]
    both = embed(bedrock, inputText="a blue box", inputImage=image)[0]["embedding"]
    mean = [(a + b) / 2 for a, b in zip(text_vec, image_vec)]
    assert cosine(both, mean) > 0.9999


def test_text_and_images_share_one_space(bedrock) -> None:
    """A text query ranks images: the same vector space, comparable by cosine."""
    images = [b64(image_bytes(shape_image(c))) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    query = embed(bedrock, inputText="赤い車")[0]["embedding"]
    scores = [cosine(query, embed(bedrock, inputImage=i)[0]["embedding"]) for i in images]
    assert len(set(scores)) == 3 and all(-1 <= s <= 1 for s in scores)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_image_formats(bedrock, fmt: str) -> None:
    image = shape_image()
    body, _ = embed(bedrock, inputImage=b64(image_bytes(image.convert("P") if fmt == "GIF" else image, fmt)))
    assert len(body["embedding"]) == 1024
    assert body["inputTextTokenCount"] == 0


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.titan-embed-image-v1",
        "amazon.titan-embed-image-v1:0",
        "us.amazon.titan-embed-image-v1",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-image-v1",
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-image-v1:0",
    ],
)
def test_model_id_aliases(bedrock, model_id: str) -> None:
    response = bedrock.invoke_model(modelId=model_id, body=json.dumps({"inputText": "hello"}))
    assert len(json.loads(response["body"].read())["embedding"]) == 1024


def test_concurrent_requests_get_their_own_answers(bedrock) -> None:
    """Dynamic batching must never mix answers up between concurrent callers."""
    texts = [f"query number {i}" for i in range(24)]
    alone = {t: embed(bedrock, inputText=t)[0]["embedding"] for t in texts[:4]}
    with ThreadPoolExecutor(max_workers=12) as pool:
        together = dict(zip(texts, pool.map(lambda t: embed(bedrock, inputText=t)[0]["embedding"], texts)))
    for text, vector in alone.items():
        assert cosine(vector, together[text]) > 0.99999
    assert len({tuple(v[:8]) for v in together.values()}) == len(texts)
