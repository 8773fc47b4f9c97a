"""Faults against a real `outcrop serve` process: an engine that raises, runs out of memory or hangs
past its deadline, a client that disconnects mid-request, a full queue, SIGTERM during a long
request. Each is answered as Bedrock would and the server keeps serving the next request."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from servers import ServerProcess, fault_model_toml

FAULT = "test.fault-v1"
MODELS_TOML = fault_model_toml(FAULT, max_batch=1, timeout_s=4, hang_s=60, slow_s=3, max_queue=2)


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "models.toml").write_text(MODELS_TOML)
    proc = ServerProcess("--profile", "test", "--models", str(folder / "models.toml"), "--log-format", "json",
                         log=folder / "server.log")
    proc.start()
    yield proc
    proc.stop()


def client(url: str):  # type: ignore[no-untyped-def]
    return boto3.client("bedrock-runtime", endpoint_url=url, config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                                                          read_timeout=30))


def embed(c, text: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(c.invoke_model(modelId=FAULT, body=json.dumps({"inputText": text}))["body"].read())


def expect_error(c, text: str) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        embed(c, text)
    return info.value


def wait_for_log(proc: ServerProcess, needle: str, timeout: float = 10) -> str:
    assert proc.log_path is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = proc.log_path.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in the server log")


def metric(proc: ServerProcess, name: str) -> float:
    for line in httpx.get(f"{proc.url}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def test_engine_exception_then_next_request_served(fault_server: ServerProcess) -> None:
    c = client(fault_server.url)
    assert len(embed(c, "warm up")["embedding"]) == 1024
    error = expect_error(c, "FAULT:raise now")
    assert isinstance(error, c.exceptions.ModelErrorException)
    assert error.response["originalStatusCode"] == 500 and error.response["resourceName"] == FAULT
    assert "injected" not in error.response["Error"]["Message"]  # no internals leak to the client
    assert len(embed(c, "after the failure")["embedding"]) == 1024


def test_out_of_memory_then_next_request_served(fault_server: ServerProcess) -> None:
    c = client(fault_server.url)
    error = expect_error(c, "FAULT:oom please")
    assert isinstance(error, c.exceptions.ModelErrorException)
    assert "ran out of memory" in error.response["Error"]["Message"]
    assert len(embed(c, "after the OOM")["embedding"]) == 1024


def test_hang_past_deadline_times_out_and_work_is_cancelled(fault_server: ServerProcess) -> None:
    c = client(fault_server.url)
    started = time.monotonic()
    error = expect_error(c, "FAULT:hang forever")
    elapsed = time.monotonic() - started
    assert isinstance(error, c.exceptions.ModelTimeoutException)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 408
    assert 3.5 < elapsed < 15
    wait_for_log(fault_server, "hang stopped after")
    # The worker thread is free again: the next request does not wait for the 60 s hang.
    started = time.monotonic()
    assert len(embed(c, "after the hang")["embedding"]) == 1024
    assert time.monotonic() - started < 3


def test_client_disconnect_frees_its_slot(fault_server: ServerProcess) -> None:
    log_before = fault_server.log_path.read_text() if fault_server.log_path else ""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fault_server.url}/model/{FAULT}/invoke", content=json.dumps({"inputText": "FAULT:hang bye"}), timeout=1.0)
    text = wait_for_log(fault_server, "went away; cancelling", timeout=5)
    assert text.count("hang stopped after") > log_before.count("hang stopped after") or wait_for_log(fault_server, "hang stopped after")
    deadline = time.monotonic() + 5
    while metric(fault_server, "outcrop_requests_in_flight") > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(fault_server, "outcrop_requests_in_flight") == 0
    assert metric(fault_server, 'outcrop_queue_depth') == 0
    started = time.monotonic()
    assert len(embed(client(fault_server.url), "after the disconnect")["embedding"]) == 1024
    assert time.monotonic() - started < 3  # well before the 4 s deadline the hang would have used


def test_full_queue_throttles(fault_server: ServerProcess) -> None:
    """One running + max_queue=2 waiting: the rest are refused at once with ThrottlingException."""
    c = client(fault_server.url)

    def call(i: int) -> str:
        try:
            embed(c, f"FAULT:slow {i}")
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(call, range(6)))
    assert outcomes.count("ThrottlingException") >= 1
    assert set(outcomes) <= {"ok", "ThrottlingException", "ModelTimeoutException"}
    assert "ok" in outcomes


def test_sigterm_drains_in_flight_request_and_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "models.toml").write_text(MODELS_TOML)
    proc = ServerProcess("--profile", "test", "--models", str(tmp_path / "models.toml"), log=tmp_path / "server.log")
    proc.start()
    c = client(proc.url)
    embed(c, "load the model first")
    result: dict[str, object] = {}

    def long_request() -> None:
        started = time.monotonic()
        result["body"] = embed(c, "FAULT:slow during shutdown")
        result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(1.0)
    assert proc.process is not None
    proc.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(httpx.HTTPError):  # no longer accepting
        httpx.get(f"{proc.url}/health", timeout=2)
    worker.join(timeout=30)
    assert len(result["body"]["embedding"]) == 1024  # type: ignore[index]
    assert proc.process.wait(timeout=30) == 0
