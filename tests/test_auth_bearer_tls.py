"""Bedrock API keys over TLS, the secure-default bind rule and CORS, against real `outcrop serve` processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from servers import ServerProcess, ThreadServer, free_port

MODEL = "amazon.titan-embed-image-v1"
AUTH_TOML = """
[[api_keys]]
name = "embedder"
token = "bedrock-api-key-embed"
models = ["amazon.titan-embed-image-v1"]

[[api_keys]]
name = "claude"
token_sha256 = "{claude_sha}"
models = ["anthropic.claude-*"]
"""


def outcrop(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "outcrop", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    import hashlib

    folder = tmp_path_factory.mktemp("tls")
    result = outcrop("tls-init", "--out", str(folder))
    assert result.returncode == 0, result.stderr
    assert (folder / "key.pem").stat().st_mode & 0o077 == 0  # the private key is private
    auth = folder / "auth.toml"
    auth.write_text(AUTH_TOML.format(claude_sha=hashlib.sha256(b"bedrock-api-key-claude").hexdigest()))
    cert = folder / "cert.pem"
    proc = ServerProcess("--profile", "test", "--tls-cert", str(cert), "--tls-key", str(folder / "key.pem"),
                         "--auth-file", str(auth), scheme="https", log=folder / "server.log")
    proc.start(verify=str(cert))
    yield proc, cert
    proc.stop()


def bearer_client(url: str, cert: Path, token: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", token)
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", verify=str(cert),
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def test_tls_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert outcrop("tls-init", "--out", str(tmp_path)).returncode == 0
    again = outcrop("tls-init", "--out", str(tmp_path))
    assert again.returncode == 1 and "--force" in again.stderr


def test_bearer_key_with_permission(tls_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    proc, cert = tls_server
    client = bearer_client(proc.url, cert, "bedrock-api-key-embed", monkeypatch)
    response = client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "hello"}))
    assert len(json.loads(response["body"].read())["embedding"]) == 1024


def test_bearer_key_without_permission_for_model(tls_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    proc, cert = tls_server
    client = bearer_client(proc.url, cert, "bedrock-api-key-claude", monkeypatch)
    with pytest.raises(client.exceptions.AccessDeniedException) as info:
        client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "hello"}))
    assert "claude is not authorized to perform: bedrock:InvokeModel" in info.value.response["Error"]["Message"]


def test_unknown_bearer_key(tls_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    proc, cert = tls_server
    client = bearer_client(proc.url, cert, "not-a-key", monkeypatch)
    with pytest.raises(client.exceptions.AccessDeniedException) as info:
        client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "hello"}))
    assert "API Key is valid" in info.value.response["Error"]["Message"]
    assert "not-a-key" not in (proc.log_path.read_text() if proc.log_path else "")


def test_insecure_bind_refused_then_allowed(tmp_path: Path) -> None:
    refused = outcrop("serve", "--profile", "test", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 1
    assert "refusing to serve on 0.0.0.0 without authentication" in refused.stderr and "--insecure" in refused.stderr
    proc = ServerProcess("--profile", "test", "--host", "0.0.0.0", "--insecure")
    try:
        proc.start()  # reachable on loopback too, since 0.0.0.0 is every address
    finally:
        assert proc.stop() == 0


def test_non_loopback_with_auth_starts() -> None:
    proc = ServerProcess("--profile", "test", "--host", "0.0.0.0", env={"OUTCROP_API_KEYS": "k1"})
    try:
        proc.start()
        assert httpx.post(f"{proc.url}/model/{MODEL}/invoke", content=b"{}").status_code == 403
    finally:
        proc.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_needs_no_auth(host: str) -> None:
    from outcrop.server.binding import check_bind

    check_bind(host, auth_configured=False, insecure=False)


def test_cors_refused_by_default(server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(f"{server.url}/model/{MODEL}/invoke", content=json.dumps({"inputText": "x"}),
                          headers={"Origin": "https://evil.example", "Content-Type": "text/plain"})
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("AccessDeniedException")
    assert "--cors-origin" in response.json()["message"]
    assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(f"{server.url}/model/{MODEL}/invoke", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403


def test_cors_configured_origin() -> None:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    app = build_app(Settings.from_env(profile="test", cors_origins=("https://app.example",)))
    with ThreadServer(app) as srv:
        preflight = httpx.options(f"{srv.url}/model/{MODEL}/invoke", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        ok = httpx.post(f"{srv.url}/model/{MODEL}/invoke", content=b"not json", headers={"Origin": "https://app.example"})
        assert ok.status_code == 400 and ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-amzn-requestid" in ok.headers["access-control-expose-headers"].lower()
        other = httpx.post(f"{srv.url}/model/{MODEL}/invoke", content=b"{}", headers={"Origin": "https://other.example"})
        assert other.status_code == 403


def test_s3_location_is_never_fetched() -> None:
    """No endpoint fetches a URL: the server makes no outbound requests of its own."""
    import ast

    src = Path(__file__).resolve().parent.parent / "src" / "outcrop"
    fetchers = {"urllib.request", "requests", "httpx", "aiohttp", "urllib3", "http.client"}
    offenders = []
    for path in [*src.glob("server/**/*.py"), *src.glob("protocols/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if any(n == f or n.startswith(f + ".") for f in fetchers)]
    assert offenders == []
