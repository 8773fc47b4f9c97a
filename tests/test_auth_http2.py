"""SigV4 over HTTP/2: h2c with prior knowledge on plain http and h2 by ALPN over TLS.

HTTP/2 has no Host header (the `:authority` pseudo-header carries it) and sends every header name in
lower case; the signature botocore computed over `host` must still verify, and tampering must still
be caught. The AWS SDK for JavaScript v3 signs over HTTP/2 with its own signer, so it is tried too.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

from servers import ThreadServer
from tls import self_signed_cert

MODEL = "amazon.titan-embed-image-v1"
ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
JS_DIR = Path(__file__).parent / "js"
AUTH_TOML = """
regions = ["us-east-1"]

[[access_keys]]
name = "h2"
access_key_id = "AKIDHTTP2"
secret_access_key = "h2-secret"
"""
BODY = json.dumps({"inputText": "a red car"}).encode()


def _app(folder: Path) -> Any:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    (folder / "auth.toml").write_text(AUTH_TOML)
    return build_app(Settings.from_env(profile="test", auth_file=folder / "auth.toml"))


@pytest.fixture(scope="module")
def h2c_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    server = ThreadServer(_app(tmp_path_factory.mktemp("h2c")))
    server.config.accesslog = logging.getLogger("hypercorn.access")  # shows the HTTP version of each request
    with server:
        yield server


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    folder = tmp_path_factory.mktemp("h2tls")
    with ThreadServer(_app(folder), tls=self_signed_cert(folder)) as server:
        yield server


class SignEveryHeader(SigV4Auth):
    """A signer that, unlike botocore, also signs user-agent (SigV4 allows any header to be signed)."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = super().headers_to_sign(request)
        for name, value in request.headers.items():
            if name.lower() not in headers:
                headers[name.lower()] = value
        return headers


def signed(url: str, body: bytes = BODY, *, secret: str = "h2-secret", signer: type[SigV4Auth] = SigV4Auth,
           headers: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """(url, headers) of a request signed for service `bedrock` as boto3 signs it."""
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    signer(Credentials("AKIDHTTP2", secret), "bedrock", "us-east-1").add_auth(request)
    return request.url, dict(request.headers.items())


def error_type(response: httpx.Response) -> str:
    return response.headers.get("x-amzn-errortype", "").split(":", 1)[0]


def test_sigv4_over_h2c_accepted_and_tampering_refused(h2c_server: ThreadServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hypercorn.access"), httpx.Client(http1=False, http2=True, timeout=60) as client:
        url, headers = signed(f"{h2c_server.url}/model/{MODEL}/invoke")
        ok = client.post(url, content=BODY, headers=headers)
        assert ok.http_version == "HTTP/2"
        assert ok.status_code == 200, ok.text
        assert len(ok.json()["embedding"]) == 1024

        # An ARN model id: `:` and `/` percent-encoded in the path, and encoded again when signed.
        encoded = ARN.replace(":", "%3A").replace("/", "%2F")
        url, headers = signed(f"{h2c_server.url}/model/{encoded}/invoke")
        arn = client.post(url, content=BODY, headers=headers)
        assert arn.status_code == 200, arn.text

        url, headers = signed(f"{h2c_server.url}/model/{MODEL}/invoke")
        tampered = client.post(url, content=json.dumps({"inputText": "a blue car"}).encode(), headers=headers)
        assert tampered.http_version == "HTTP/2"
        assert (tampered.status_code, error_type(tampered)) == (403, "InvalidSignatureException")
        assert tampered.headers["x-amzn-requestid"]

        # The signature covers `host`, which HTTP/2 carries as `:authority`: another authority fails.
        url, headers = signed(f"{h2c_server.url}/model/{MODEL}/invoke")
        moved = client.post(url, content=BODY, headers={**headers, "host": f"localhost:{h2c_server.port}"})
        assert (moved.status_code, error_type(moved)) == (403, "InvalidSignatureException")

        url, headers = signed(f"{h2c_server.url}/model/{MODEL}/invoke", secret="not-it")
        wrong = client.post(url, content=BODY, headers=headers)
        assert (wrong.status_code, error_type(wrong)) == (403, "InvalidSignatureException")
    versions = [r.getMessage() for r in caplog.records if r.name == "hypercorn.access" and "/invoke" in r.getMessage()]
    assert versions and all('/invoke 2"' in line for line in versions), versions


def test_any_signed_header_verifies_over_h2c(h2c_server: ThreadServer) -> None:
    """botocore never signs user-agent, but other signers may: the server canonicalises exactly the
    headers the client listed, so such a request verifies, and changing that header breaks it."""
    url, headers = signed(f"{h2c_server.url}/model/{MODEL}/invoke", signer=SignEveryHeader,
                          headers={"User-Agent": "signer-test/1.0"})
    assert "user-agent" in headers["Authorization"]
    with httpx.Client(http1=False, http2=True, timeout=60) as client:
        ok = client.post(url, content=BODY, headers=headers)
        assert ok.status_code == 200, ok.text
        changed = client.post(url, content=BODY, headers={**headers, "User-Agent": "signer-test/2.0"})
        assert (changed.status_code, error_type(changed)) == (403, "InvalidSignatureException")


def test_sigv4_over_tls_alpn_h2(tls_server: ThreadServer) -> None:
    with httpx.Client(http2=True, verify=tls_server.verify, timeout=60) as client:
        url, headers = signed(f"{tls_server.url}/model/{MODEL}/invoke")
        ok = client.post(url, content=BODY, headers=headers)
        assert ok.http_version == "HTTP/2"  # negotiated by ALPN, not prior knowledge
        assert ok.status_code == 200, ok.text
        url, headers = signed(f"{tls_server.url}/model/{MODEL}/invoke")
        tampered = client.post(url, content=b'{"inputText": "x"}', headers=headers)
        assert (tampered.status_code, error_type(tampered)) == (403, "InvalidSignatureException")


def test_boto3_sigv4_over_https(tls_server: ThreadServer, tmp_path: Path) -> None:
    """boto3 over https (HTTP/1.1): payload signing there must agree with the server's."""
    cert = tls_server.config.certfile
    client = boto3.client("bedrock-runtime", endpoint_url=tls_server.url, region_name="us-east-1", verify=cert,
                          aws_access_key_id="AKIDHTTP2", aws_secret_access_key="h2-secret",
                          config=Config(retries={"max_attempts": 1}))
    assert len(json.loads(client.invoke_model(modelId=ARN, body=BODY)["body"].read())["embedding"]) == 1024


# -- AWS SDK for JavaScript v3: its own SigV4 signer, over HTTP/2 -------------------------------------
def run_js(endpoint: str, model_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint, "AWS_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(JS_DIR / "no-such-config"), "AWS_SHARED_CREDENTIALS_FILE": str(JS_DIR / "no-such-file"),
           "AWS_ACCESS_KEY_ID": "AKIDHTTP2", "AWS_SECRET_ACCESS_KEY": secret}
    env.pop("AWS_SESSION_TOKEN", None)
    result = subprocess.run(["node", "embed.mjs", model_id, BODY.decode()], cwd=JS_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_js_sdk_sigv4_over_h2c(js_sdk: Path, h2c_server: ThreadServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hypercorn.access"):
        rc, out = run_js(h2c_server.url, ARN, "h2-secret")
        assert rc == 0 and out["length"] == 1024, out
        rc, out = run_js(h2c_server.url, MODEL, "not-the-secret")
    assert rc == 1 and (out["error"], out["status"]) == ("InvalidSignatureException", 403), out
    js = [r.getMessage() for r in caplog.records if r.name == "hypercorn.access" and "aws-sdk-js" in r.getMessage()]
    assert len(js) == 2 and all('/invoke 2"' in line for line in js), js
