"""SigV4 as Bedrock checks it: signatures boto3 makes are accepted; tampering, wrong secrets, stale
dates, wrong regions and missing headers are refused with AWS's error codes. Real server, real boto3."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from servers import ThreadServer

MODEL = "amazon.titan-embed-image-v1"
ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}:0"
AUTH_TOML = """
regions = ["us-east-1"]

[[access_keys]]
name = "full"
access_key_id = "AKIDFULL"
secret_access_key = "full-secret"

[[access_keys]]
name = "embed-only"
access_key_id = "AKIDEMBED"
secret_access_key = "embed-secret"
models = ["amazon.titan-embed-*"]
actions = ["bedrock:InvokeModel"]

[[access_keys]]
name = "claude-only"
access_key_id = "AKIDCLAUDE"
secret_access_key = "claude-secret"
models = ["anthropic.*"]

[[access_keys]]
name = "slow"
access_key_id = "AKIDSLOW"
secret_access_key = "slow-secret"
requests_per_second = 0.01
burst = 2

[[access_keys]]
name = "session"
access_key_id = "ASIASESSION"
secret_access_key = "session-secret"
session_token = "the-session-token"
"""


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    path = tmp_path_factory.mktemp("auth") / "auth.toml"
    path.write_text(AUTH_TOML)
    with ThreadServer(build_app(Settings.from_env(profile="test", auth_file=path))) as server:
        yield server


def client(url: str, key: str = "AKIDFULL", secret: str = "full-secret", region: str = "us-east-1", token: str | None = None):  # type: ignore[no-untyped-def]
    return boto3.client(
        "bedrock-runtime", endpoint_url=url, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token, config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def error_of(call) -> tuple[str, int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def embed_body(text: str = "hello") -> str:
    return json.dumps({"inputText": text})


def signed(url: str, body: bytes, *, key: str = "AKIDFULL", secret: str = "full-secret", region: str = "us-east-1",
           when: dt.datetime | None = None, headers: dict[str, str] | None = None) -> AWSRequest:
    """A request signed by botocore's signer, as boto3 signs it, to be sent (or tampered with) by httpx."""
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when or dt.datetime.now(dt.UTC).replace(tzinfo=None)):
        SigV4Auth(Credentials(key, secret), "bedrock", region).add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None, drop: tuple[str, ...] = (), add: dict[str, str] | None = None) -> httpx.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
    headers.update(add or {})
    return httpx.post(request.url, content=request.body if body is None else body, headers=headers, timeout=30)


def test_boto3_signature_accepted_and_model_runs(auth_server: ThreadServer) -> None:
    response = client(auth_server.url).invoke_model(modelId=MODEL, body=embed_body())
    assert len(json.loads(response["body"].read())["embedding"]) == 1024
    assert response["ResponseMetadata"]["RequestId"]


def test_arn_model_id_signed_with_double_encoded_path(auth_server: ThreadServer) -> None:
    """botocore signs `%3A`/`%2F` encoded again (`%253A`); the server must canonicalise the same way."""
    response = client(auth_server.url).invoke_model(modelId=ARN, body=embed_body())
    assert len(json.loads(response["body"].read())["embedding"]) == 1024


def test_session_token_key(auth_server: ThreadServer) -> None:
    ok = client(auth_server.url, "ASIASESSION", "session-secret", token="the-session-token")
    assert ok.invoke_model(modelId=MODEL, body=embed_body())["ResponseMetadata"]["HTTPStatusCode"] == 200
    wrong = client(auth_server.url, "ASIASESSION", "session-secret", token="another-token")
    assert error_of(lambda: wrong.invoke_model(modelId=MODEL, body=embed_body()))[:2] == ("UnrecognizedClientException", 403)


def test_wrong_secret(auth_server: ThreadServer) -> None:
    code, status, message = error_of(lambda: client(auth_server.url, secret="not-the-secret").invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in message


def test_unknown_access_key(auth_server: ThreadServer) -> None:
    code, status, message = error_of(lambda: client(auth_server.url, key="AKIDNOBODY").invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("UnrecognizedClientException", 403)
    assert message == "The security token included in the request is invalid."


def test_wrong_region(auth_server: ThreadServer) -> None:
    code, status, message = error_of(lambda: client(auth_server.url, region="eu-west-1").invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("InvalidSignatureException", 403)
    assert "valid region" in message


@pytest.mark.parametrize("minutes", [-6, 6])
def test_expired_or_future_signature_from_boto3(auth_server: ThreadServer, minutes: int) -> None:
    """A request boto3 signed 6 minutes ago (a replayed old request) or 6 minutes ahead is refused."""
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed):
        code, status, message = error_of(lambda: client(auth_server.url).invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature expired" if minutes < 0 else "Signature not yet current")


def test_within_skew_accepted(auth_server: ThreadServer) -> None:
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=4)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed):
        assert client(auth_server.url).invoke_model(modelId=MODEL, body=embed_body())["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_replayed_old_request_refused(auth_server: ThreadServer) -> None:
    """The exact bytes of a request captured 10 minutes ago, sent again."""
    url = f"{auth_server.url}/model/{MODEL}/invoke"
    old = signed(url, embed_body().encode(), when=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10))
    response = send(old)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert response.headers["x-amzn-requestid"]


def test_fresh_signed_request_by_hand_accepted(auth_server: ThreadServer) -> None:
    url = f"{auth_server.url}/model/{MODEL}/invoke"
    response = send(signed(url, embed_body().encode()))
    assert response.status_code == 200, response.text


def test_tampered_body(auth_server: ThreadServer) -> None:
    url = f"{auth_server.url}/model/{MODEL}/invoke"
    response = send(signed(url, embed_body("pay 1 dollar").encode()), body=embed_body("pay 9 dollars").encode())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_tampered_path_and_content_hash_header(auth_server: ThreadServer) -> None:
    request = signed(f"{auth_server.url}/model/{MODEL}/invoke", embed_body().encode())
    moved = httpx.post(f"{auth_server.url}/model/anthropic.claude-v2/invoke", content=request.body, headers=dict(request.headers.items()))
    assert moved.status_code == 403 and moved.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    lying = send(request, body=b'{"inputText": "other"}', add={"x-amz-content-sha256": "0" * 64})
    assert lying.status_code == 403 and lying.headers["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_unsigned_bedrock_header_added_after_signing(auth_server: ThreadServer) -> None:
    request = signed(f"{auth_server.url}/model/{MODEL}/invoke", embed_body().encode())
    response = send(request, add={"X-Amzn-Bedrock-GuardrailIdentifier": "sneaky"})
    assert response.status_code == 403
    assert "not signed" in response.json()["message"]


def test_missing_headers(auth_server: ThreadServer) -> None:
    request = signed(f"{auth_server.url}/model/{MODEL}/invoke", embed_body().encode())
    no_auth = send(request, drop=("authorization",))
    assert no_auth.status_code == 403
    assert no_auth.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
    no_date = send(request, drop=("x-amz-date",))
    assert no_date.status_code == 400
    assert no_date.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
    garbled = send(request, add={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDFULL/x"})
    assert garbled.status_code == 400
    assert garbled.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
    wrong_service = send(signed(f"{auth_server.url}/model/{MODEL}/invoke", b"{}"),
                         add={"Authorization": request.headers["Authorization"].replace("/bedrock/", "/s3/")})
    assert wrong_service.status_code == 403 and "correct service" in wrong_service.json()["message"]


def test_unsigned_boto3_client_refused(auth_server: ThreadServer) -> None:
    from botocore import UNSIGNED

    unsigned = boto3.client("bedrock-runtime", endpoint_url=auth_server.url, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert error_of(lambda: unsigned.invoke_model(modelId=MODEL, body=embed_body()))[:2] == ("MissingAuthenticationTokenException", 403)


def test_open_paths_need_no_auth(auth_server: ThreadServer) -> None:
    assert httpx.get(f"{auth_server.url}/health").status_code == 200
    assert httpx.get(f"{auth_server.url}/metrics").status_code == 200
    assert httpx.get(f"{auth_server.url}/docs/../model/x/invoke").status_code in (403, 404)


def test_permissions_by_model_glob(auth_server: ThreadServer) -> None:
    embed_only = client(auth_server.url, "AKIDEMBED", "embed-secret")
    assert embed_only.invoke_model(modelId=MODEL, body=embed_body())["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert embed_only.invoke_model(modelId=ARN, body=embed_body())["ResponseMetadata"]["HTTPStatusCode"] == 200
    claude_only = client(auth_server.url, "AKIDCLAUDE", "claude-secret")
    code, status, message = error_of(lambda: claude_only.invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("AccessDeniedException", 403)
    assert "not authorized to perform: bedrock:InvokeModel" in message and MODEL in message


def test_permissions_by_action(auth_server: ThreadServer) -> None:
    embed_only = client(auth_server.url, "AKIDEMBED", "embed-secret")
    code, status, message = error_of(lambda: embed_only.invoke_model_with_response_stream(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("AccessDeniedException", 403)
    assert "bedrock:InvokeModelWithResponseStream" in message
    # Converse is allowed by bedrock:InvokeModel (as in IAM); the model itself then refuses Converse.
    code, status, _ = error_of(lambda: embed_only.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert (code, status) == ("ValidationException", 400)


def test_rate_limit_per_key(auth_server: ThreadServer) -> None:
    slow = client(auth_server.url, "AKIDSLOW", "slow-secret")
    for _ in range(2):
        slow.invoke_model(modelId=MODEL, body=embed_body())
    code, status, _ = error_of(lambda: slow.invoke_model(modelId=MODEL, body=embed_body()))
    assert (code, status) == ("ThrottlingException", 429)
    # Other keys keep their own buckets.
    assert client(auth_server.url).invoke_model(modelId=MODEL, body=embed_body())["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_secrets_never_logged(auth_server: ThreadServer, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        client(auth_server.url).invoke_model(modelId=MODEL, body=embed_body("my private prompt"))
        error_of(lambda: client(auth_server.url, secret="wrong-secret-value").invoke_model(modelId=MODEL, body=embed_body()))
    text = "\n".join(r.getMessage() + " " + json.dumps({k: str(v) for k, v in vars(r).items()}) for r in caplog.records
                     if r.name.startswith("outcrop"))
    for secret in ("full-secret", "wrong-secret-value", "my private prompt"):
        assert secret not in text


def test_auth_file_errors_are_clear(tmp_path: Path) -> None:
    from outcrop.server.auth import load_keys

    bad = tmp_path / "bad.toml"
    bad.write_text('[[access_keys]]\naccess_key_id = "A"\nsecret = "typo"\n')
    with pytest.raises(ValueError, match="unknown keys"):
        load_keys(bad, environ={})
    with pytest.raises(ValueError, match="AKID:SECRET"):
        load_keys(None, environ={"OUTCROP_ACCESS_KEYS": "no-colon"})
    store = load_keys(None, environ={"OUTCROP_ACCESS_KEYS": "AK1:S1,AK2:S2", "OUTCROP_API_KEYS": "tok"})
    assert set(store.access_keys) == {"AK1", "AK2"} and store.api_key("tok") and not store.api_key("tok2")
