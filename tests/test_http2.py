"""HTTP/1.1 and HTTP/2 against real servers: h2c with prior knowledge on plain http, h2 by ALPN over TLS.

The AWS SDK for JavaScript v3 speaks HTTP/2 to bedrock-runtime; boto3 speaks HTTP/1.1. Both must work,
over http and https, with model ids that are ARNs (percent-encoded `:` and `/` in one path segment).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from servers import ServerProcess
from tls import self_signed_cert

MODEL = "amazon.titan-embed-image-v1"
ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
ARN_PATH = ARN.replace(":", "%3A").replace("/", "%2F")
BODY = json.dumps({"inputText": "a red car"})


def invoke(client: httpx.Client, base: str, model_path: str = MODEL, body: str = BODY) -> httpx.Response:
    return client.post(
        f"{base}/model/{model_path}/invoke",
        content=body,
        headers={"content-type": "application/json", "accept": "application/json"},
    )


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_cert(folder)
    proc = ServerProcess(
        "--profile", "test", "--tls-cert", str(cert), "--tls-key", str(key), "--access-log",
        scheme="https", log=folder / "server.log",
    )
    try:
        proc.start(verify=ssl.create_default_context(cafile=str(cert)))
    except Exception:
        print((folder / "server.log").read_text(errors="replace")[-5000:])
        raise
    yield proc, cert
    proc.stop()


def test_http11_plain(server) -> None:
    with httpx.Client(http1=True, http2=False, timeout=60) as client:
        response = invoke(client, server.url)
    assert response.http_version == "HTTP/1.1"
    assert response.status_code == 200, response.text
    assert len(response.json()["embedding"]) == 1024


def test_h2c_prior_knowledge(server) -> None:
    with httpx.Client(http1=False, http2=True, timeout=60) as client:
        response = invoke(client, server.url)
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200, response.text
        assert len(response.json()["embedding"]) == 1024
        assert response.headers["x-amzn-requestid"]
        # Several requests on one HTTP/2 connection, and an error answered in Bedrock's envelope.
        again = invoke(client, server.url)
        assert again.json() == response.json()
        error = invoke(client, server.url, body="{}")
    assert error.http_version == "HTTP/2" and error.status_code == 400
    assert error.headers["x-amzn-errortype"].startswith("ValidationException")
    assert "inputText or inputImage" in error.json()["message"]


def test_arn_model_id_over_h2c(server) -> None:
    with httpx.Client(http1=False, http2=True, timeout=60) as client:
        response = invoke(client, server.url, ARN_PATH)
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200, response.text
    assert len(response.json()["embedding"]) == 1024


def test_h2_by_alpn_over_tls(tls_server) -> None:
    proc, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(http2=True, verify=context, timeout=60) as client:
        response = invoke(client, proc.url)
        arn = invoke(client, proc.url, ARN_PATH)
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200, response.text
    assert len(response.json()["embedding"]) == 1024
    assert arn.http_version == "HTTP/2" and arn.status_code == 200, arn.text
    assert arn.json()["embedding"] == response.json()["embedding"]


def test_http11_over_tls_when_client_offers_only_http11(tls_server) -> None:
    proc, cert = tls_server
    with httpx.Client(http1=True, http2=False, verify=ssl.create_default_context(cafile=str(cert)), timeout=60) as client:
        response = invoke(client, proc.url)
    assert response.http_version == "HTTP/1.1" and response.status_code == 200


def test_tls_rejects_unverified_client(tls_server) -> None:
    """The certificate is really checked: without it as a trust root the handshake fails."""
    proc, _ = tls_server
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{proc.url}/health", timeout=10)


def test_boto3_over_tls(tls_server) -> None:
    proc, cert = tls_server
    client = boto3.client("bedrock-runtime", endpoint_url=proc.url, verify=str(cert))
    for model_id in (MODEL, ARN):
        response = client.invoke_model(modelId=model_id, body=BODY)
        assert len(json.loads(response["body"].read())["embedding"]) == 1024
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "x", "extra": 1}))


def test_access_log_names_protocols(tls_server) -> None:
    """The access log (--access-log) records each request's protocol: what the JS client test relies on."""
    proc, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(http2=True, verify=context, timeout=60) as client:
        assert client.get(f"{proc.url}/health", headers={"user-agent": "probe-h2"}).status_code == 200
    with httpx.Client(http2=False, verify=context, timeout=60) as client:
        assert client.get(f"{proc.url}/health", headers={"user-agent": "probe-h11"}).status_code == 200
    assert proc.log_path is not None
    wanted = (('"GET /health 2" 200', '"probe-h2"'), ('"GET /health 1.1" 200', '"probe-h11"'))
    deadline = time.monotonic() + 10  # the server writes its access line after the response: wait for it
    while True:
        log = proc.log_path.read_text(errors="replace")
        found = [any(a in line and b in line for line in log.splitlines()) for a, b in wanted]
        if all(found) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found[0], log[-2000:]
    assert found[1], log[-2000:]
