"""Per-key concurrency caps (`max_concurrency` in the auth file): a request beyond the cap gets
ThrottlingException at once instead of waiting in the model queue, other keys are not affected, and
the slot comes back when the response is finished or the client has gone away. Real server, real
boto3, the test-only fault engine (a real embedding engine whose `FAULT:slow` / `FAULT:hang` inputs
hold the worker)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from servers import ThreadServer, fault_model_toml

FAULT = "test.fault-v1"
# timeout_s is long on purpose: only the disconnect (not the model deadline) can free a hung request's slot in time.
MODELS_TOML = fault_model_toml(FAULT, max_batch=1, timeout_s=60, hang_s=60, slow_s=3)
AUTH_TOML = """
[[access_keys]]
name = "capped"
access_key_id = "AKIDCAPPED"
secret_access_key = "capped-secret"
max_concurrency = 1

[[access_keys]]
name = "free"
access_key_id = "AKIDFREE"
secret_access_key = "free-secret"
"""


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    folder = tmp_path_factory.mktemp("concurrency")
    (folder / "models.toml").write_text(MODELS_TOML)
    (folder / "auth.toml").write_text(AUTH_TOML)
    settings = Settings.from_env(profile="test", models_file=folder / "models.toml", auth_file=folder / "auth.toml")
    with ThreadServer(build_app(settings)) as server:
        yield server


def client(url: str, key: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=f"AKID{key.upper()}",
        aws_secret_access_key=f"{key}-secret", config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )


def embed(c, text: str) -> list[float]:  # type: ignore[no-untyped-def]
    return json.loads(c.invoke_model(modelId=FAULT, body=json.dumps({"inputText": text}))["body"].read())["embedding"]


def code_of(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
        return "ok"
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def wait_until_running(url: str, timeout: float = 30) -> None:
    """Until the fault model's worker is running a batch (scraped from /metrics)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in httpx.get(f"{url}/metrics").text.splitlines():
            if line.startswith(f'outcrop_batch_running{{model="{FAULT}"}}') and float(line.rsplit(" ", 1)[1]) >= 1:
                return
        time.sleep(0.05)
    raise AssertionError("the slow request never started running")


def test_beyond_the_cap_is_refused_at_once_and_other_keys_are_not(capped_server: ThreadServer) -> None:
    capped, free = client(capped_server.url, "capped"), client(capped_server.url, "free")
    assert len(embed(capped, "load the model")) == 1024
    outcome: dict[str, str] = {}
    slow = threading.Thread(target=lambda: outcome.setdefault("slow", code_of(lambda: embed(capped, "FAULT:slow hold the slot"))))
    slow.start()
    wait_until_running(capped_server.url)

    with pytest.raises(ClientError) as refused:
        embed(capped, "a second one at the same time")
    assert slow.is_alive()  # refused while the first was still running: not queued behind it
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 429)
    assert "at most 1 at once" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["RequestId"]

    # Another key queues behind the slow request as usual and is answered.
    assert len(embed(free, "another key")) == 1024
    slow.join(timeout=60)
    assert outcome["slow"] == "ok"
    # The slot came back with the finished response (a refused request never held one).
    assert len(embed(capped, "after the slow one")) == 1024
    assert len(embed(capped, "and again")) == 1024


def test_client_disconnect_releases_the_slot(capped_server: ThreadServer) -> None:
    capped = client(capped_server.url, "capped")
    assert len(embed(capped, "load the model")) == 1024
    url = f"{capped_server.url}/model/{FAULT}/invoke"
    body = json.dumps({"inputText": "FAULT:hang until the client leaves"}).encode()
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIDCAPPED", "capped-secret"), "bedrock", "us-east-1").add_auth(request)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, content=body, headers=dict(request.headers.items()), timeout=1.0)
    # The hung request would hold the slot for 60 s (its deadline); after the disconnect it is freed
    # within moments, so a capped call succeeds long before that.
    deadline = time.monotonic() + 20
    codes = []
    while time.monotonic() < deadline:
        codes.append(code_of(lambda: embed(capped, "after the disconnect")))
        if codes[-1] == "ok":
            break
        time.sleep(0.2)
    assert codes[-1] == "ok", codes
    assert set(codes) <= {"ok", "ThrottlingException"}


def test_max_concurrency_must_be_a_positive_whole_number(tmp_path: Path) -> None:
    from outcrop.server.auth import load_keys

    for bad in ("0", "-1", "1.5", '"two"', "true"):
        path = tmp_path / "auth.toml"
        path.write_text(f'[[api_keys]]\ntoken = "t"\nmax_concurrency = {bad}\n')
        with pytest.raises(ValueError, match="max_concurrency must be a whole number of at least 1"):
            load_keys(path, environ={})
    path.write_text('[[api_keys]]\ntoken = "t"\nmax_concurrency = 3\n')
    principal = load_keys(path, environ={}).api_key("t")
    assert principal is not None and principal.max_concurrency == 3
