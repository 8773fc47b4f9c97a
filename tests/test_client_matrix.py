"""Every real client, every operation, over each transport it uses by default.

Each transport gets one `outcrop serve --profile test` with SigV4 on: plain http (the AWS SDK for
JavaScript v3 then speaks h2c with prior knowledge) and TLS (h2 by ALPN for the JS SDK, HTTP/1.1 for
boto3, the AWS CLI, langchain-aws and the Vercel AI SDK's fetch). Wherever a response is deterministic,
what a client received is compared byte for byte with what boto3 receives for the same request, so a
cut-short body or stream cannot pass.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from images import image_bytes, shape_image
from servers import ServerProcess
from tls import self_signed_cert

JS_DIR = Path(__file__).parent / "js"
AWS_CLI = Path(sys.executable).parent / "aws"
KEY, SECRET = "AKIDMATRIX", "matrix-secret"
THROTTLED_KEY, THROTTLED_SECRET = "AKIDTHROTTLED", "throttled-secret"
AUTH_TOML = f"""
[[access_keys]]
name = "matrix"
access_key_id = "{KEY}"
secret_access_key = "{SECRET}"

[[access_keys]]
name = "throttled"
access_key_id = "{THROTTLED_KEY}"
secret_access_key = "{THROTTLED_SECRET}"
requests_per_second = 0.001
burst = 1
"""
DEADLINE_MODEL = "amazon.nova-pro-v1:0"  # a stream deadline of 2 s: its long streams end in an error event
MODELS_TOML = f"""
[models."{DEADLINE_MODEL}"]
protocol = "converse"
engine = "vision-chat"
weights = "builtin:tiny-qwen2.5-vl"
dtype = "float32"
device = "cpu"
options = {{ max_output_tokens = 16000, context_tokens = 32768, stream_timeout_s = 2 }}
"""
CHAT = "amazon.nova-lite-v1:0"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED = "amazon.titan-embed-image-v1"
SDXL = "stability.stable-diffusion-xl-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
CANVAS = "amazon.nova-canvas-v1:0"
PNG = image_bytes(shape_image(size=(96, 64)))
DOCUMENT = b"Invoice 42\nTotal: 1,200 JPY\nDue: 2026-12-31\n"


@dataclass
class Transport:
    name: str
    server: ServerProcess
    ca: Path | None

    def env(self, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
        """The environment a user sets: the endpoint variable, credentials, region and, for TLS, the CA."""
        env = {**os.environ, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.server.url, "AWS_REGION": "us-east-1",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
               "AWS_CONFIG_FILE": str(JS_DIR / "no-such-config")}
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_ENDPOINT_URL", None)
        if self.ca:
            env["AWS_CA_BUNDLE"] = env["NODE_EXTRA_CA_CERTS"] = str(self.ca)
        return env

    def boto3(self, **config: Any) -> Any:
        return boto3.client("bedrock-runtime", endpoint_url=self.server.url, region_name="us-east-1",
                            aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                            verify=str(self.ca) if self.ca else None, config=Config(**config) if config else None)


@pytest.fixture(scope="module", params=["h2c", "tls"])
def transport(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Transport]:
    folder = tmp_path_factory.mktemp(f"matrix-{request.param}")
    (folder / "auth.toml").write_text(AUTH_TOML)
    (folder / "models.toml").write_text(MODELS_TOML)
    args = ["--profile", "test", "--auth-file", str(folder / "auth.toml"), "--models", str(folder / "models.toml"), "--access-log"]
    ca = None
    if request.param == "tls":
        ca, key = self_signed_cert(folder)
        args += ["--tls-cert", str(ca), "--tls-key", str(key)]
    server = ServerProcess(*args, scheme="https" if ca else "http", log=folder / "server.log")
    try:
        server.start(verify=str(ca) if ca else True)
    except Exception:
        print((folder / "server.log").read_text(errors="replace")[-5000:])
        raise
    yield Transport(request.param, server, ca)
    server.stop()


# -- the requests every client makes --------------------------------------------------------------------
SMALL_BODY = {"inputText": "a red car"}
SDXL_BODY = {"text_prompts": [{"text": "a lighthouse at dusk"}], "width": 1024, "height": 1024, "steps": 10, "seed": 7}
TITAN_FIVE_BODY = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a red car"},
                   "imageGenerationConfig": {"numberOfImages": 5, "width": 512, "height": 512, "seed": 11}}
ANTHROPIC_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32,
                  "messages": [{"role": "user", "content": "describe a red car"}]}
IMAGE_AND_DOCUMENT = [{"role": "user", "content": [
    {"image": {"format": "png", "source": {"bytes": PNG}}},
    {"document": {"format": "txt", "name": "invoice", "source": {"bytes": DOCUMENT}}},
    {"text": "Does the image match the invoice?"}]}]
LONG_ANSWER = {"messages": [{"role": "user", "content": [{"text": "write a long story"}]}], "inferenceConfig": {"maxTokens": 512}}
OVER_DEADLINE = {"messages": [{"role": "user", "content": [{"text": "write a long story"}]}], "inferenceConfig": {"maxTokens": 15000}}
BAD_BODY = {"inputText": "a red car", "embeddingConfig": {"outputEmbeddingLength": 512}}


def js_bytes(value: Any) -> Any:
    """Request values for tests/js/clients.mjs: bytes become {"$b64": ...}."""
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [js_bytes(v) for v in value]
    if isinstance(value, dict):
        return {k: js_bytes(v) for k, v in value.items()}
    return value


JS_CALLS: dict[str, dict[str, Any]] = {
    "invoke_small": {"op": "InvokeModel", "input": {"modelId": EMBED, "body": SMALL_BODY}},
    "invoke_sdxl_1024": {"op": "InvokeModel", "input": {"modelId": SDXL, "body": SDXL_BODY}},
    "invoke_titan_five": {"op": "InvokeModel", "input": {"modelId": TITAN_V2, "body": TITAN_FIVE_BODY}},
    "invoke_stream": {"op": "InvokeModelWithResponseStream", "input": {"modelId": CLAUDE, "body": ANTHROPIC_BODY}},
    "converse_image_document": {"op": "Converse", "input": {"modelId": CHAT, "messages": js_bytes(IMAGE_AND_DOCUMENT),
                                                            "inferenceConfig": {"maxTokens": 24}}},
    "converse_stream_long": {"op": "ConverseStream", "input": {"modelId": CHAT, **LONG_ANSWER}},
    "converse_stream_error": {"op": "ConverseStream", "input": {"modelId": DEADLINE_MODEL, **OVER_DEADLINE},
                              "config": {"maxAttempts": 1}},
    "validation_error": {"op": "InvokeModel", "input": {"modelId": EMBED, "body": BAD_BODY}, "config": {"maxAttempts": 1}},
    "throttled_first": {"op": "InvokeModel", "input": {"modelId": EMBED, "body": SMALL_BODY},
                        "config": {"maxAttempts": 1, "credentials": {"accessKeyId": THROTTLED_KEY, "secretAccessKey": THROTTLED_SECRET}}},
    "throttled_second": {"op": "InvokeModel", "input": {"modelId": EMBED, "body": SMALL_BODY},
                         "config": {"maxAttempts": 1, "credentials": {"accessKeyId": THROTTLED_KEY, "secretAccessKey": THROTTLED_SECRET}}},
    "bad_signature": {"op": "InvokeModel", "input": {"modelId": EMBED, "body": SMALL_BODY},
                      "config": {"maxAttempts": 1, "credentials": {"accessKeyId": KEY, "secretAccessKey": "not-the-secret"}}},
    # The Vercel AI SDK's Bedrock provider.
    "ai_generate_text_image": {"client": "ai-sdk", "op": "generateText", "modelId": CHAT, "input": {"maxOutputTokens": 16, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                     {"type": "image", "image": js_bytes(PNG), "mediaType": "image/png"}]}]}},
    "ai_stream_text": {"client": "ai-sdk", "op": "streamText", "modelId": CHAT,
                       "input": {"prompt": "write a long story", "maxOutputTokens": 64}},
    "ai_embed": {"client": "ai-sdk", "op": "embed", "modelId": EMBED, "input": {"value": "a red car"}},
    "ai_generate_image": {"client": "ai-sdk", "op": "generateImage", "modelId": CANVAS,
                          "input": {"prompt": "a red car", "size": "512x512", "seed": 5}},
}


@pytest.fixture(scope="module")
def js_results(js_sdk: Path, transport: Transport) -> dict[str, dict[str, Any]]:
    """Every JS call, in one Node process per transport (in order: the throttled pair depends on it)."""
    names = list(JS_CALLS)
    result = subprocess.run(["node", "clients.mjs"], cwd=js_sdk, env=transport.env(), capture_output=True, text=True,
                            input=json.dumps([JS_CALLS[name] for name in names]), timeout=300)
    assert result.returncode == 0 and result.stdout.strip(), result.stderr[-3000:]
    return dict(zip(names, json.loads(result.stdout.strip().splitlines()[-1]), strict=True))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def boto3_invoke(transport: Transport, model_id: str, body: dict[str, Any]) -> bytes:
    response = transport.boto3().invoke_model(modelId=model_id, body=json.dumps(body), contentType="application/json",
                                              accept="application/json")
    return response["body"].read()


def boto3_stream_events(transport: Transport, **request: Any) -> list[dict[str, Any]]:
    return list(transport.boto3().converse_stream(**request)["stream"])


def stream_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)


# -- AWS SDK for JavaScript v3 (HTTP/2) -------------------------------------------------------------------
def test_js_sdk_speaks_http2(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    assert "error" not in js_results["invoke_small"], js_results["invoke_small"]
    assert transport.server.log_path is not None
    lines = [line for line in transport.server.log_path.read_text(errors="replace").splitlines() if "aws-sdk-js" in line]
    assert lines and all(' 2" ' in line for line in lines), lines[:5]  # "POST /model/... 2" status


@pytest.mark.parametrize("name, model_id, body, minimum", [
    ("invoke_small", EMBED, SMALL_BODY, 1000),
    ("invoke_sdxl_1024", SDXL, SDXL_BODY, 1_000_000),
    ("invoke_titan_five", TITAN_V2, TITAN_FIVE_BODY, 1_000_000),
])
def test_js_sdk_invoke_model_whole_body(js_results: dict[str, dict[str, Any]], transport: Transport, name: str,
                                        model_id: str, body: dict[str, Any], minimum: int) -> None:
    got = js_results[name]
    assert "error" not in got, got
    expected = boto3_invoke(transport, model_id, body)
    assert got["length"] == len(expected) >= minimum
    assert got["sha256"] == sha256(expected)


def test_js_sdk_invoke_model_with_response_stream(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    got = js_results["invoke_stream"]
    assert "error" not in got, got
    response = transport.boto3().invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(ANTHROPIC_BODY))
    expected = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert [e["type"] for e in got["events"]] == [e["type"] for e in expected]
    assert got["events"][-1]["type"] == "message_stop" and len(got["events"]) >= 5
    strip = lambda events: [{k: v for k, v in e.items() if k not in ("message", "amazon-bedrock-invocationMetrics")} for e in events]  # noqa: E731
    assert strip(got["events"]) == strip(expected)  # the same deltas; message ids and timings differ


def test_js_sdk_converse_with_image_and_document(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    got = js_results["converse_image_document"]
    assert "error" not in got, got
    expected = transport.boto3().converse(modelId=CHAT, messages=IMAGE_AND_DOCUMENT, inferenceConfig={"maxTokens": 24})
    assert got["output"] == expected["output"]
    assert got["usage"]["inputTokens"] == expected["usage"]["inputTokens"] > 30


def test_js_sdk_converse_stream_long_answer(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    got = js_results["converse_stream_long"]
    assert "error" not in got, got
    events = got["events"]
    assert list(events[0]) == ["messageStart"] and list(events[-1]) == ["metadata"]
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] >= 500
    assert stream_text(events) == stream_text(boto3_stream_events(transport, modelId=CHAT, **LONG_ANSWER))


def test_js_sdk_mid_stream_error_event(js_results: dict[str, dict[str, Any]]) -> None:
    got = js_results["converse_stream_error"]
    assert got["error"] == "ModelStreamErrorException", got
    assert "timed out" in got["message"]
    assert list(got["events"][0]) == ["messageStart"] and any("contentBlockDelta" in e for e in got["events"])


def test_js_sdk_modeled_errors(js_results: dict[str, dict[str, Any]]) -> None:
    bad = js_results["validation_error"]
    assert (bad["error"], bad["status"]) == ("ValidationException", 400), bad
    assert "outputEmbeddingLength" in bad["message"]
    assert "error" not in js_results["throttled_first"], js_results["throttled_first"]
    throttled = js_results["throttled_second"]
    assert (throttled["error"], throttled["status"]) == ("ThrottlingException", 429), throttled
    signature = js_results["bad_signature"]
    assert (signature["error"], signature["status"]) == ("InvalidSignatureException", 403), signature


# -- the Vercel AI SDK's Bedrock provider ----------------------------------------------------------------
def test_ai_sdk_generate_text_with_image(js_results: dict[str, dict[str, Any]]) -> None:
    got = js_results["ai_generate_text_image"]
    assert "error" not in got, got
    assert got["text"] and got["finishReason"] in ("stop", "length")
    assert got["usage"]["inputTokens"] > 20 and 0 < got["usage"]["outputTokens"] <= 16


def test_ai_sdk_stream_text(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    got = js_results["ai_stream_text"]
    assert "error" not in got, got
    assert len(got["deltas"]) > 10 and got["finishReason"] == "length"
    expected = boto3_stream_events(transport, modelId=CHAT, messages=[{"role": "user", "content": [{"text": "write a long story"}]}],
                                   inferenceConfig={"maxTokens": 64})
    assert "".join(got["deltas"]) == stream_text(expected)


def test_ai_sdk_embed(js_results: dict[str, dict[str, Any]], transport: Transport) -> None:
    got = js_results["ai_embed"]
    assert "error" not in got, got
    assert got["embedding"] == json.loads(boto3_invoke(transport, EMBED, SMALL_BODY))["embedding"]


def test_ai_sdk_generate_image(js_results: dict[str, dict[str, Any]]) -> None:
    got = js_results["ai_generate_image"]
    assert "error" not in got, got
    assert len(got["images"]) == 1 and got["images"][0]["length"] > 10_000


# -- boto3 (HTTP/1.1) ------------------------------------------------------------------------------------
def test_boto3_every_operation(transport: Transport) -> None:
    client = transport.boto3()
    png = boto3_invoke(transport, SDXL, SDXL_BODY)
    image = Image.open(io.BytesIO(base64.b64decode(json.loads(png)["artifacts"][0]["base64"])))
    assert image.size == (1024, 1024)
    assert len(json.loads(boto3_invoke(transport, TITAN_V2, TITAN_FIVE_BODY))["images"]) == 5
    chunks = list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(ANTHROPIC_BODY))["body"])
    assert json.loads(chunks[-1]["chunk"]["bytes"])["type"] == "message_stop"
    answer = client.converse(modelId=CHAT, messages=IMAGE_AND_DOCUMENT, inferenceConfig={"maxTokens": 8})
    assert answer["output"]["message"]["content"][0]["text"]
    events = boto3_stream_events(transport, modelId=CHAT, **LONG_ANSWER)
    assert events[-1]["metadata"]["usage"]["outputTokens"] >= 500
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=EMBED, body=json.dumps(BAD_BODY))


def test_boto3_throttled_is_throttling_exception(transport: Transport) -> None:
    client = boto3.client("bedrock-runtime", endpoint_url=transport.server.url, region_name="us-east-1",
                          aws_access_key_id=THROTTLED_KEY, aws_secret_access_key=THROTTLED_SECRET,
                          verify=str(transport.ca) if transport.ca else None,
                          config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(client.exceptions.ThrottlingException):
        for _ in range(3):  # the JS SDK may have spent this key's one token already
            client.invoke_model(modelId=EMBED, body=json.dumps(SMALL_BODY))


# -- the AWS CLI (HTTP/1.1; it has no event-stream commands) ---------------------------------------------
def aws_cli(transport: Transport, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AWS_CLI), "bedrock-runtime", *args, "--cli-read-timeout", "120"], env=transport.env(),
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)


def test_aws_cli_invoke_model_and_converse(transport: Transport, tmp_path: Path) -> None:
    result = aws_cli(transport, tmp_path, "invoke-model", "--model-id", SDXL, "--body", json.dumps(SDXL_BODY),
                     "--content-type", "application/json", "--accept", "application/json", "out.json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.json").read_bytes() == boto3_invoke(transport, SDXL, SDXL_BODY)
    messages = [{"role": "user", "content": [{"text": "hello"}]}]
    result = aws_cli(transport, tmp_path, "converse", "--model-id", CHAT, "--messages", json.dumps(messages),
                     "--inference-config", json.dumps({"maxTokens": 8}))
    assert result.returncode == 0, result.stderr
    expected = transport.boto3().converse(modelId=CHAT, messages=messages, inferenceConfig={"maxTokens": 8})
    assert json.loads(result.stdout)["output"] == expected["output"]
    result = aws_cli(transport, tmp_path, "invoke-model", "--model-id", EMBED, "--body", json.dumps(BAD_BODY), "bad.json")
    assert result.returncode != 0 and "ValidationException" in result.stderr


# -- langchain-aws (boto3 underneath) --------------------------------------------------------------------
@pytest.fixture
def langchain_env(transport: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in transport.env().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)


def test_langchain_chat_with_image_stream_and_tools(transport: Transport, langchain_env: None) -> None:
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool

    chat = ChatBedrockConverse(model=CHAT, region_name="us-east-1", max_tokens=16)
    image = HumanMessage(content=[{"type": "text", "text": "What is in this image?"},
                                  {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}])
    answer = chat.invoke([image])
    assert answer.content and answer.usage_metadata["input_tokens"] > 20
    chunks = list(chat.stream([image]))
    assert len(chunks) > 3
    streamed = "".join(c.content if isinstance(c.content, str) else "".join(p.get("text", "") for p in c.content) for c in chunks)
    assert streamed == (answer.content if isinstance(answer.content, str) else answer.content[0]["text"])

    @tool
    def price(item: str) -> str:
        """Look up the price of an item."""
        return "1,200 JPY"

    with_tools = chat.bind_tools([price])
    sent: list[dict[str, Any]] = []
    with_tools.client.meta.events.register("before-call.bedrock-runtime.Converse", lambda params, **_: sent.append(params["body"]))
    history = [HumanMessage(content="How much is the red car?"),
               AIMessage(content="", tool_calls=[{"name": "price", "args": {"item": "red car"}, "id": "tooluse_1"}]),
               ToolMessage(content="1,200 JPY", tool_call_id="tooluse_1")]
    reply = with_tools.invoke(history)
    assert isinstance(reply, AIMessage) and reply.response_metadata["stopReason"] in ("end_turn", "max_tokens", "tool_use")
    body = json.loads(sent[-1])
    assert body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "price"
    assert [list(block) for message in body["messages"] for block in message["content"]] == [["text"], ["toolUse"], ["toolResult"]]


def test_langchain_embeddings(transport: Transport, langchain_env: None) -> None:
    from langchain_aws import BedrockEmbeddings

    embeddings = BedrockEmbeddings(model_id=EMBED, region_name="us-east-1")
    assert embeddings.embed_query("a red car") == json.loads(boto3_invoke(transport, EMBED, SMALL_BODY))["embedding"]
    assert [len(v) for v in embeddings.embed_documents(["a", "b"])] == [1024, 1024]
