"""Attacks on the auth layer: arbitrary Authorization headers (Hypothesis), oversize signed bodies,
huge headers. Each is refused with a 4xx AWS error, never a crash or a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcrop.errors import IncompleteSignatureException, InvalidSignatureException
from outcrop.server.auth.sigv4 import check_scope, parse_authorization
from servers import ThreadServer

MODEL = "amazon.titan-embed-image-v1"
CASES_RUN = {"n": 0}
pieces = st.sampled_from(["AWS4-HMAC-SHA256", " ", ",", "=", "/", "Credential", "SignedHeaders", "Signature", "AKIDFULL",
                          "20260101", "us-east-1", "bedrock", "aws4_request", "host;x-amz-date", "ab12"])
headers_text = st.lists(pieces | st.text(max_size=8), max_size=30).map("".join) | st.text(max_size=300)


@settings(max_examples=1000, deadline=None, database=None)
@given(value=headers_text, amz_date=st.none() | st.text(max_size=20) | st.just("20260101T000000Z"))
def test_authorization_parser_never_crashes(value: str, amz_date: str | None) -> None:
    CASES_RUN["n"] += 1
    try:
        parsed = parse_authorization(value)
        check_scope(parsed, amz_date, datetime(2026, 1, 1, tzinfo=UTC), region_ok=True)
    except (IncompleteSignatureException, InvalidSignatureException) as exc:
        assert exc.status in (400, 403)


@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    path = tmp_path_factory.mktemp("authfuzz") / "auth.toml"
    path.write_text('[[access_keys]]\naccess_key_id = "AKIDFULL"\nsecret_access_key = "full-secret"\n')
    with ThreadServer(build_app(Settings.from_env(profile="test", auth_file=path, max_body_bytes=100_000))) as server:
        yield server


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(value=headers_text.filter(lambda v: v.isprintable() and v.strip() == v and v.isascii()))
def test_arbitrary_authorization_headers_over_http(small_limit_server: ThreadServer, value: str) -> None:
    CASES_RUN["n"] += 1
    headers = {"X-Amz-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")}
    if value:
        headers["Authorization"] = value
    response = httpx.post(f"{small_limit_server.url}/model/{MODEL}/invoke", content=b'{"inputText":"x"}', headers=headers)
    assert 400 <= response.status_code < 500
    assert response.headers["x-amzn-errortype"].split(":")[0] in {
        "MissingAuthenticationTokenException", "IncompleteSignatureException", "InvalidSignatureException",
        "UnrecognizedClientException", "AccessDeniedException"}


def test_oversize_signed_body_refused_before_buffering(small_limit_server: ThreadServer) -> None:
    from test_auth_sigv4 import send, signed

    request = signed(f"{small_limit_server.url}/model/{MODEL}/invoke", b"x" * 300_000)
    response = send(request)
    assert response.status_code == 400
    assert "less than or equal to 100000" in response.json()["message"]


def test_huge_header_refused(small_limit_server: ThreadServer) -> None:
    try:
        response = httpx.post(f"{small_limit_server.url}/model/{MODEL}/invoke", content=b"{}",
                              headers={"Authorization": "AWS4-HMAC-SHA256 " + "A" * 200_000})
    except httpx.RemoteProtocolError:
        return  # Hypercorn drops a request whose head exceeds h11_max_incomplete_size: acceptable
    assert 400 <= response.status_code < 500


def test_report_cases_run() -> None:
    print(f"\nauth fuzz cases run: {CASES_RUN['n']}")
