"""Bad input to the embeddings model: each case is a ValidationException that says what to fix, the server
keeps serving (health and a good request afterwards), and its memory does not spike."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import psutil
import pytest

from images import b64, image_bytes

MODEL = "amazon.titan-embed-image-v1"
MAX_RSS_GROWTH = 200 * 1024 * 1024


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG of a few hundred bytes whose header declares width×height 8-bit RGB pixels; its one IDAT
    holds the first rows of zeros (decoding it all would need 7.5 GB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def truncated_png() -> bytes:
    from images import shape_image

    data = image_bytes(shape_image(size=(256, 256)))
    return data[: len(data) // 2]


@pytest.fixture(scope="module")
def server_process(server) -> psutil.Process:  # type: ignore[no-untyped-def]
    assert server.process is not None
    return psutil.Process(server.process.pid)


def good_request(client: Any) -> None:
    response = client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "still serving"}))
    assert len(json.loads(response["body"].read())["embedding"]) == 1024


def expect_validation(client: Any, body: bytes | str, *fragments: str, model_id: str = MODEL, **kwargs: Any) -> str:
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=model_id, body=body, **kwargs)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = error["Error"]["Message"]
    for fragment in fragments:
        assert fragment in message, message
    return message


Case = Callable[[], tuple[Any, tuple[str, ...], dict[str, Any]]]

CASES: dict[str, Case] = {
    "malformed-base64": lambda: ({"inputImage": "not base64 at all!!"}, ("inputImage is not valid base64",), {}),
    "not-an-image": lambda: ({"inputImage": b64(b"%PDF-1.4 this is not an image" * 20)}, ("inputImage is not a valid image", "PNG"), {}),
    "truncated-png": lambda: ({"inputImage": b64(truncated_png())}, ("inputImage could not be decoded", "truncated"), {}),
    "decompression-bomb": lambda: ({"inputImage": b64(bomb_png())}, ("inputImage declares a size over the limit", "4,194,304 pixels", "Resize the image"), {}),
    "image-3000x3000": lambda: ({"inputImage": b64(bomb_png(3000, 3000))}, ("inputImage is 3000x3000 pixels, over the limit",), {}),
    "image-10000x10000": lambda: ({"inputImage": b64(bomb_png(10_000, 10_000))}, ("inputImage declares a size over the limit",), {}),
    "image-over-5MB": lambda: ({"inputImage": b64(os.urandom(5 * 1024 * 1024 + 1000))}, ("inputImage is too large", "5,242,880"), {}),
    "empty-body": lambda: (b"", ("Malformed input request",), {}),
    "json-array": lambda: ([{"inputText": "a"}], ("#: expected type: JSONObject, found: JSONArray",), {}),
    "not-json": lambda: (b"{inputText: a}", ("Malformed input request",), {}),
    "unknown-field": lambda: ({"inputText": "a", "normalize": True}, ("#: extraneous key [normalize] is not permitted",), {}),
    "unknown-nested-field": lambda: (
        {"inputText": "a", "embeddingConfig": {"outputEmbeddingLength": 256, "dims": 2}},
        ("#/embeddingConfig: extraneous key [dims] is not permitted",), {},
    ),
    "text-wrong-type": lambda: ({"inputText": 42}, ("#/inputText: expected type: String, found: Integer",), {}),
    "image-wrong-type": lambda: ({"inputImage": ["abc"]}, ("#/inputImage: expected type: String, found: JSONArray",), {}),
    "length-wrong-type": lambda: (
        {"inputText": "a", "embeddingConfig": {"outputEmbeddingLength": "256"}},
        ("#/embeddingConfig/outputEmbeddingLength",), {},
    ),
    "config-wrong-type": lambda: ({"inputText": "a", "embeddingConfig": 256}, ("#/embeddingConfig: expected type: JSONObject, found: Integer",), {}),
    "text-10MB": lambda: ({"inputText": "word " * (2 * 1024 * 1024)}, ("10,485,760 characters", "128 tokens", "Shorten inputText"), {}),
    "text-over-128-tokens": lambda: ({"inputText": " ".join(f"w{i}" for i in range(400))}, ("over this model's limit of 128 tokens",), {}),
    "empty-text": lambda: ({"inputText": "   "}, ("inputText must not be empty",), {}),
    "length-512": lambda: ({"inputText": "a", "embeddingConfig": {"outputEmbeddingLength": 512}}, ("#/embeddingConfig/outputEmbeddingLength: 512 is not a valid enum value",), {}),
    "no-input": lambda: ({"embeddingConfig": {"outputEmbeddingLength": 256}}, ("at least one of inputText or inputImage is required",), {}),
    "wrong-content-type": lambda: ({"inputText": "a"}, ("Content-Type 'text/plain' is not supported", "application/json"), {"contentType": "text/plain"}),
    "wrong-accept": lambda: ({"inputText": "a"}, ("Accept type 'image/png' is not supported",), {"accept": "image/png"}),
    "malformed-model-id": lambda: ({"inputText": "a"}, ("at 'modelId' failed to satisfy constraint", "regular expression pattern"), {"modelId": "bad model id!"}),
    "unknown-model-id": lambda: ({"inputText": "a"}, ("The provided model identifier is invalid.",), {"modelId": "acme.no-such-model-v9:0"}),
    "body-over-25MB": lambda: (b"{" + b" " * 25_000_000 + b"}", ("Member must have length less than or equal to 25000000",), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_validation_exception(case: str, server, bedrock_no_retry, server_process: psutil.Process) -> None:
    good_request(bedrock_no_retry)  # the model is loaded: its memory is in the baseline
    before = server_process.memory_info().rss
    body, fragments, kwargs = CASES[case]()
    payload = body if isinstance(body, bytes) else json.dumps(body)
    expect_validation(bedrock_no_retry, payload, *fragments, model_id=kwargs.pop("modelId", MODEL), **kwargs)
    grown = server_process.memory_info().rss - before
    assert grown < MAX_RSS_GROWTH, f"server RSS grew by {grown / 2**20:.0f} MiB on {case}"
    assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"
    good_request(bedrock_no_retry)


def test_bomb_is_small_and_really_declares_50000_pixels_per_side() -> None:
    """The bomb is what the test says it is: a small file whose header Pillow reads as 50,000×50,000."""
    import io

    from PIL import Image

    data = bomb_png()
    assert len(data) < 2048
    assert struct.unpack(">II", data[16:24]) == (50_000, 50_000)
    with pytest.raises(Image.DecompressionBombError, match="2500000000 pixels"):
        Image.open(io.BytesIO(data))


def test_raw_http_errors_have_the_aws_envelope(server) -> None:
    """Without an SDK in between: status, x-amzn-ErrorType and a JSON message, over HTTP/1.1 and HTTP/2."""
    for http2 in (False, True):
        with httpx.Client(http1=not http2, http2=http2, timeout=60) as client:
            response = client.post(
                f"{server.url}/model/{MODEL}/invoke", content=b"[1, 2]",
                headers={"content-type": "application/json"},
            )
        assert response.status_code == 400
        assert response.headers["x-amzn-errortype"].split(":")[0] == "ValidationException"
        assert "JSONArray" in response.json()["message"]
        assert "Traceback" not in response.text

