"""A second look at the security layer's edges: every method on every kind of route gets a
Bedrock-shaped answer; the /outcrop/v1 search routes need a key allowed the embedding model they run;
/metrics and /health stay open but hold no secrets; auth error bodies never echo a secret; the body
limit is enforced before the auth layer buffers a body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from servers import ThreadServer

MODEL = "amazon.titan-embed-image-v1"
LIMIT = 4096
AUTH_TOML = """
[[access_keys]]
name = "full"
access_key_id = "AKIDREVIEWFULL"
secret_access_key = "review-full-secret"

[[access_keys]]
name = "embed-only"
access_key_id = "AKIDREVIEWEMBED"
secret_access_key = "review-embed-secret"
models = ["amazon.titan-embed-*"]
actions = ["bedrock:InvokeModel"]

[[access_keys]]
name = "claude-only"
access_key_id = "AKIDREVIEWCLAUDE"
secret_access_key = "review-claude-secret"
models = ["anthropic.*"]

[[access_keys]]
name = "stream-only"
access_key_id = "AKIDREVIEWSTREAM"
secret_access_key = "review-stream-secret"
actions = ["bedrock:InvokeModelWithResponseStream"]

[[access_keys]]
name = "session"
access_key_id = "ASIAREVIEW"
secret_access_key = "review-session-secret"
session_token = "review-session-token-value"

[[api_keys]]
name = "notebook"
token = "review-api-key-token-value"
"""
SECRETS = ("review-full-secret", "review-embed-secret", "review-claude-secret", "review-stream-secret",
           "review-session-secret", "review-session-token-value", "review-api-key-token-value")
METHODS = ("HEAD", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO")
PATHS = (f"/model/{MODEL}/invoke", f"/model/{MODEL}/converse-stream", "/guardrail/g1/version/1/apply",
         "/outcrop/v1/collections", "/no/such/route")


def _server(folder: Path, auth: bool) -> ThreadServer:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    (folder / "auth.toml").write_text(AUTH_TOML)
    settings = Settings.from_env(profile="test", auth_file=folder / "auth.toml" if auth else None,
                                 max_body_bytes=LIMIT, data_dir=folder / "data")
    return ThreadServer(build_app(settings))


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with _server(tmp_path_factory.mktemp("review-auth"), auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with _server(tmp_path_factory.mktemp("review-open"), auth=False) as server:
        yield server


def signed_headers(method: str, url: str, body: bytes, key: str, secret: str, **extra: str) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json", **extra})
    SigV4Auth(Credentials(key, secret), "bedrock", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def signed_call(server: ThreadServer, method: str, path: str, key: str, body: bytes = b"") -> httpx.Response:
    url = f"{server.url}{path}"
    secret = "review-" + key.removeprefix("AKIDREVIEW").lower() + "-secret"
    return httpx.request(method, url, content=body, headers=signed_headers(method, url, body, key, secret), timeout=60)


def error_type(response: httpx.Response) -> str:
    return response.headers.get("x-amzn-errortype", "").split(":", 1)[0]


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
def test_every_method_on_every_route_is_bedrock_shaped(auth: bool, request: pytest.FixtureRequest) -> None:
    server: ThreadServer = request.getfixturevalue("auth_server" if auth else "open_server")
    answered = 0
    with httpx.Client(timeout=30) as client:
        for method in METHODS:
            for path in PATHS:
                if not auth and (method, path) == ("GET", "/outcrop/v1/collections"):
                    continue  # the one real GET route: answered 200 without auth
                response = client.request(method, f"{server.url}{path}")
                kind = error_type(response)
                assert response.status_code in (400, 403, 404), (method, path, response.status_code)
                assert kind in ("UnknownOperationException", "MissingAuthenticationTokenException"), (method, path, kind)
                if auth and method != "OPTIONS":  # OPTIONS passes to CORS handling, then routing
                    assert kind == "MissingAuthenticationTokenException", (method, path)
                assert response.headers["x-amzn-requestid"]
                if method != "HEAD":
                    assert response.json()["message"]
                answered += 1
    assert answered == len(METHODS) * len(PATHS) - (0 if auth else 1)


def test_search_routes_need_a_key_allowed_the_embedding_model(auth_server: ThreadServer) -> None:
    from outcrop.search.embedder import DEFAULT_MODEL

    assert error_type(httpx.get(f"{auth_server.url}/outcrop/v1/collections")) == "MissingAuthenticationTokenException"
    for key in ("AKIDREVIEWFULL", "AKIDREVIEWEMBED"):
        allowed = signed_call(auth_server, "GET", "/outcrop/v1/collections", key)
        assert allowed.status_code == 200 and allowed.json() == [], (key, allowed.text)
    for key in ("AKIDREVIEWCLAUDE", "AKIDREVIEWSTREAM"):
        for method, path, body in (("GET", "/outcrop/v1/collections", b""),
                                   ("POST", "/outcrop/v1/collections/photos/search", json.dumps({"text": "a cat"}).encode())):
            denied = signed_call(auth_server, method, path, key, body)
            assert (denied.status_code, error_type(denied)) == (403, "AccessDeniedException"), (key, path)
            assert f"bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/{DEFAULT_MODEL}" in denied.json()["message"]


def test_metrics_and_health_are_open_but_hold_no_secrets(auth_server: ThreadServer) -> None:
    boto = boto3.client("bedrock-runtime", endpoint_url=auth_server.url, region_name="us-east-1",
                        aws_access_key_id="AKIDREVIEWFULL", aws_secret_access_key="review-full-secret",
                        config=Config(retries={"max_attempts": 1}))
    boto.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "my private prompt"}))
    signed_call(auth_server, "GET", "/outcrop/v1/collections", "AKIDREVIEWCLAUDE")
    httpx.post(f"{auth_server.url}/model/{MODEL}/invoke", headers={"Authorization": "Bearer review-api-key-token-value"},
               content=json.dumps({"inputText": "another private prompt"}))
    metrics = httpx.get(f"{auth_server.url}/metrics")
    health = httpx.get(f"{auth_server.url}/health")
    assert metrics.status_code == 200 and health.status_code == 200
    assert 'outcrop_requests_total{model="amazon.titan-embed-image-v1",operation="Search",outcome="AccessDeniedException"}' in metrics.text
    for text in (metrics.text, health.text):
        for needle in (*SECRETS, "AKIDREVIEW", "ASIAREVIEW", "private prompt", "claude-only", "embed-only", "notebook"):
            assert needle not in text, needle


def test_auth_error_bodies_never_echo_a_secret(auth_server: ThreadServer) -> None:
    url = f"{auth_server.url}/model/{MODEL}/invoke"
    body = json.dumps({"inputText": "hello"}).encode()
    cases: dict[str, tuple[dict[str, str], str]] = {
        "wrong secret": (signed_headers("POST", url, body, "AKIDREVIEWFULL", "a-wrong-secret-value"), "a-wrong-secret-value"),
        "unknown key": (signed_headers("POST", url, body, "AKIDNOBODY", "nobodys-secret-value"), "nobodys-secret-value"),
        "wrong session token": (signed_headers("POST", url, body, "ASIAREVIEW", "review-session-secret",
                                               **{"X-Amz-Security-Token": "a-wrong-session-token"}), "a-wrong-session-token"),
        "unknown API key": ({"Authorization": "Bearer an-unknown-api-key-value"}, "an-unknown-api-key-value"),
        "bare secret as header": ({"Authorization": "sk-a-bare-secret-value"}, "sk-a-bare-secret-value"),
        "secret after the algorithm": ({"Authorization": "AWS4-HMAC-SHA256 a-pasted-secret-value"}, "a-pasted-secret-value"),
        "secret in a garbled header": ({"Authorization": "AWS4-HMAC-SHA256 Credential=A/B, Oops=a-garbled-secret-value"},
                                       "a-garbled-secret-value"),
    }
    for name, (headers, secret) in cases.items():
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        assert response.status_code in (400, 403), name
        assert error_type(response) != "", name
        seen = response.text + json.dumps(dict(response.headers))
        for needle in (secret, *SECRETS):
            assert needle not in seen, (name, needle)
    assert len(cases) == 7


def test_body_limit_over_http_before_and_while_buffering(auth_server: ThreadServer) -> None:
    url = f"{auth_server.url}/model/{MODEL}/invoke"
    big = json.dumps({"inputText": "x" * (LIMIT * 2)}).encode()
    declared = httpx.post(url, content=big, headers=signed_headers("POST", url, big, "AKIDREVIEWFULL", "review-full-secret"))
    assert (declared.status_code, error_type(declared)) == (400, "ValidationException")
    assert f"less than or equal to {LIMIT}" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    headers = signed_headers("POST", url, big, "AKIDREVIEWFULL", "review-full-secret")
    headers.pop("Content-Length", None)
    streamed = httpx.post(url, content=chunks(), headers=headers)
    assert (streamed.status_code, error_type(streamed)) == (400, "ValidationException")


def test_declared_oversize_body_is_refused_without_reading_it() -> None:
    """The auth layer refuses a signed request whose Content-Length is over the limit before it
    calls `receive` even once (so a key holder cannot make it buffer anything)."""
    from outcrop.server.auth import Authenticate, load_keys

    keys = load_keys(None, environ={"OUTCROP_ACCESS_KEYS": "AKIDUNIT:unit-secret"})
    url = "http://127.0.0.1:9/model/amazon.titan-embed-image-v1/invoke"
    body = b"{" + b" " * 10_000 + b"}"
    headers = signed_headers("POST", url, body, "AKIDUNIT", "unit-secret", Host="127.0.0.1:9")
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "scheme": "http", "path": "/model/amazon.titan-embed-image-v1/invoke",
        "raw_path": b"/model/amazon.titan-embed-image-v1/invoke", "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {**headers, "Content-Length": str(len(body))}.items()],
        "state": {},
    }
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be reached")

    asyncio.run(Authenticate(never, keys=keys, max_body_bytes=1000)(scope, receive, send))
    assert received == []
    assert sent[0]["status"] == 400
    assert dict(sent[0]["headers"])[b"x-amzn-errortype"].startswith(b"ValidationException")


def test_sdk_search_client_authenticates_like_a_bedrock_client(auth_server: ThreadServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """`search_images(server=...)` signs with the caller's AWS credentials (SigV4, botocore's chain)
    or sends a Bedrock API key, so it works against a server that has keys."""
    from outcrop.search.client import search_images
    from outcrop.search.store import SearchError

    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDREVIEWEMBED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "review-embed-secret")
    with pytest.raises(SearchError, match="no collection 'nope'"):  # authenticated: the route itself answers
        search_images("a cat", collection="nope", server=auth_server.url)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(SearchError, match="signature"):
        search_images("a cat", collection="nope", server=auth_server.url)
    with pytest.raises(SearchError, match="no collection 'nope'"):
        search_images("a cat", collection="nope", server=auth_server.url, api_key="review-api-key-token-value")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "review-api-key-token-value")
    with pytest.raises(SearchError, match="no collection 'nope'"):
        search_images("a cat", collection="nope", server=auth_server.url)
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDREVIEWCLAUDE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "review-claude-secret")
    with pytest.raises(SearchError, match="not authorized to perform: bedrock:InvokeModel"):
        search_images("a cat", collection="nope", server=auth_server.url)
