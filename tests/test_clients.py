"""Real clients other than boto3 against the real server: the AWS CLI, langchain-aws and the AWS SDK for
JavaScript v3 (which speaks HTTP/2 to bedrock-runtime). Each is configured only by its endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import ServerProcess

MODEL = "amazon.titan-embed-image-v1"
JS_DIR = Path(__file__).parent / "js"
AWS_CLI = Path(sys.executable).parent / "aws"


# -- AWS CLI ------------------------------------------------------------------------------------------
def binary_format_flags() -> list[str]:
    """AWS CLI v2 base64-decodes blob arguments unless told otherwise; v1 (what pip installs) sends them
    raw and has no --cli-binary-format option."""
    version = subprocess.run([str(AWS_CLI), "--version"], capture_output=True, text=True, timeout=60)
    return [] if (version.stdout + version.stderr).startswith("aws-cli/1.") else ["--cli-binary-format", "raw-in-base64-out"]


def aws_cli(*args: str, endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`aws bedrock-runtime ...` with only AWS_ENDPOINT_URL_BEDROCK_RUNTIME pointing it at outcrop."""
    env = {**os.environ, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint, "AWS_CONFIG_FILE": str(tmp_path / "none")}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [str(AWS_CLI), "bedrock-runtime", *args, "--cli-read-timeout", "60", "--cli-connect-timeout", "10"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


def test_aws_cli_invoke_model_honours_endpoint_env(server, tmp_path: Path) -> None:
    assert AWS_CLI.exists(), f"awscli is not installed in the venv ({AWS_CLI})"
    out = tmp_path / "out.json"
    body = json.dumps({"inputText": "夕日の山", "embeddingConfig": {"outputEmbeddingLength": 384}})
    result = aws_cli(
        "invoke-model", "--model-id", MODEL, "--body", body, *binary_format_flags(), str(out),
        endpoint=server.url, tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["contentType"] == "application/json"
    response = json.loads(out.read_text())
    assert len(response["embedding"]) == 384
    assert response["inputTextTokenCount"] > 0


def test_aws_cli_error_names_validation_exception(server, tmp_path: Path) -> None:
    result = aws_cli(
        "invoke-model", "--model-id", MODEL, "--body", json.dumps({"inputText": "x", "color": "red"}),
        *binary_format_flags(), str(tmp_path / "out.json"),
        endpoint=server.url, tmp_path=tmp_path,
    )
    # The CLI's exit status for a service error: 255 in v1, 254 in v2.
    assert result.returncode == (254 if binary_format_flags() else 255), (result.returncode, result.stderr)
    assert "ValidationException" in result.stderr
    assert "extraneous key [color] is not permitted" in result.stderr
    assert not (tmp_path / "out.json").exists()


# -- langchain-aws ------------------------------------------------------------------------------------
def langchain_embeddings(**kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    """BedrockEmbeddings as its docs show it, plus a record of the bodies it sends."""
    from langchain_aws import BedrockEmbeddings

    embeddings = BedrockEmbeddings(model_id=MODEL, region_name="us-east-1", **kwargs)
    sent: list[dict[str, Any]] = []
    embeddings.client.meta.events.register(
        "before-call.bedrock-runtime.InvokeModel", lambda params, **_: sent.append(json.loads(params["body"]))
    )
    return embeddings, sent


def test_langchain_embed_query_and_documents(server, bedrock) -> None:
    embeddings, sent = langchain_embeddings()
    query = embeddings.embed_query("赤い車")
    documents = embeddings.embed_documents(["a red car", "a blue boat", "夕日の山"])
    assert sent == [{"inputText": "赤い車"}, {"inputText": "a red car"}, {"inputText": "a blue boat"}, {"inputText": "夕日の山"}]
    assert len(query) == 1024 and len(documents) == 3 and all(len(d) == 1024 for d in documents)
    # The same vectors boto3 gets for the same bodies.
    direct = json.loads(bedrock.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "a red car"}))["body"].read())
    assert documents[0] == direct["embedding"]


def test_langchain_embed_image(server, tmp_path: Path) -> None:
    from images import image_bytes

    path = tmp_path / "car.png"
    path.write_bytes(image_bytes())
    embeddings, sent = langchain_embeddings()
    vector = embeddings.embed_image(str(path))
    assert len(vector) == 1024
    assert list(sent[0]) == ["inputImage"]


def test_langchain_dimensions_sends_a_field_titan_multimodal_rejects(server) -> None:
    """langchain-aws sends `dimensions` at the top level for every amazon text model; Titan Multimodal's
    schema has only inputText/inputImage/embeddingConfig, so Bedrock (and outcrop) reject it. Users
    who want 256/384 dimensions pass model_kwargs={"embeddingConfig": {...}} instead."""
    embeddings, sent = langchain_embeddings(dimensions=256)
    with pytest.raises(Exception) as raised:
        embeddings.embed_query("a red car")
    assert sent == [{"inputText": "a red car", "dimensions": 256}]
    assert type(raised.value).__name__ == "ValidationException"
    assert "extraneous key [dimensions] is not permitted" in str(raised.value)

    working, sent = langchain_embeddings(model_kwargs={"embeddingConfig": {"outputEmbeddingLength": 256}})
    assert len(working.embed_query("a red car")) == 256
    assert sent == [{"inputText": "a red car", "embeddingConfig": {"outputEmbeddingLength": 256}}]


# -- AWS SDK for JavaScript v3 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own with the access log on, so the test can see which protocol each client spoke."""
    log = tmp_path_factory.mktemp("js") / "server.log"
    proc = ServerProcess("--profile", "test", "--access-log", log=log)
    proc.start()
    yield proc
    proc.stop()


def run_js(js_dir: Path, endpoint: str, model_id: str, body: dict[str, Any] | str) -> tuple[int, dict[str, Any]]:
    env = {
        **os.environ, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint, "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(js_dir / "no-such-config"),
    }
    body_text = body if isinstance(body, str) else json.dumps(body)
    result = subprocess.run(
        ["node", "embed.mjs", model_id, body_text], cwd=js_dir, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_js_sdk_invoke_model_over_http2(js_sdk: Path, logged_server: ServerProcess) -> None:
    rc, out = run_js(js_sdk, logged_server.url, MODEL, {"inputText": "a red car"})
    assert rc == 0, out
    assert out["length"] == 1024 and out["tokens"] > 0
    rc, out = run_js(js_sdk, logged_server.url, f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}",
                     {"inputText": "a red car", "embeddingConfig": {"outputEmbeddingLength": 256}})
    assert rc == 0 and out["length"] == 256, out
    # The server saw the JavaScript SDK's requests over HTTP/2 (h2c with prior knowledge).
    assert logged_server.log_path is not None
    lines = [line for line in logged_server.log_path.read_text(errors="replace").splitlines() if "aws-sdk-js" in line]
    invokes = [line for line in lines if "/invoke " in line]
    assert len(invokes) == 2, lines
    assert all("/invoke 2\" 200" in line for line in invokes), invokes
    assert any("/model/arn:aws:bedrock:us-east-1::foundation-model/" in line for line in invokes), invokes


def test_js_sdk_error_is_validation_exception(js_sdk: Path, logged_server: ServerProcess) -> None:
    rc, out = run_js(js_sdk, logged_server.url, MODEL, {"inputText": "a red car", "embeddingConfig": {"outputEmbeddingLength": 512}})
    assert rc == 1
    assert out["error"] == "ValidationException" and out["status"] == 400, out
    assert "outputEmbeddingLength" in out["message"] and "512" in out["message"]
    rc, out = run_js(js_sdk, logged_server.url, "no.such-model-v9", {"inputText": "x"})
    assert rc == 1 and out["error"] == "ValidationException", out
    assert out["message"] == "The provided model identifier is invalid."
