"""botocore's retries of one call join the work already running instead of starting it again
(outcrop/retries.py), through real boto3 clients with short read timeouts against the real app in a
thread, so the engine's counters can be read."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.exceptions import ReadTimeoutError

from conftest import make_client
from servers import ThreadServer, fault_model_toml

SLOW = "test.slow-v1"  # FAULT:slow works 4 s: longer than the clients' 2 s read timeout
VERY_SLOW = "test.very-slow-v1"  # FAULT:slow works 60 s unless cancelled
MODELS = (fault_model_toml(SLOW, max_batch=1, timeout_s=30, slow_s=4, max_queue=8) + "\n"
          + fault_model_toml(VERY_SLOW, max_batch=1, timeout_s=120, slow_s=60, max_queue=8))


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", MODELS, tmp_path_factory.mktemp("models")) as server:
        yield server


def engine_of(server: ThreadServer, model_id: str) -> Any:
    return server.engine(model_id)


def embed(client: Any, model: str, text: str) -> dict[str, Any]:
    return json.loads(client.invoke_model(modelId=model, body=json.dumps({"inputText": text}))["body"].read())


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_botocore_sends_one_invocation_id_on_every_attempt() -> None:
    """What the joiner relies on, read from botocore itself: the id is made once per call."""
    import inspect

    from botocore import endpoint, handlers

    assert "'invocation-id' not in retries_context" in inspect.getsource(endpoint.Endpoint._update_retries_context)
    assert "amz-sdk-invocation-id" in inspect.getsource(handlers.add_retry_headers)


def test_retries_after_read_timeouts_join_the_running_work(app_server: ThreadServer) -> None:
    engine = engine_of(app_server, SLOW)
    joiner = app_server.app.state.runtime.retries
    runs_before, joined_before = engine.scheduler.items_run, joiner.joined + joiner.replayed
    client = make_client(app_server.url, read_timeout=2, retries={"total_max_attempts": 4})
    started = time.monotonic()
    result = embed(client, SLOW, "FAULT:slow a long job")
    elapsed = time.monotonic() - started
    assert len(result["embedding"]) == 1024
    assert elapsed > 2  # the first attempt really timed out on the client
    assert joiner.joined + joiner.replayed > joined_before  # a retry was answered by the first attempt's work
    assert engine.scheduler.items_run - runs_before == 1  # the work ran exactly once
    assert engine.scheduler.depth == 0 and joiner.running == 0


def test_the_same_body_from_two_calls_runs_twice(app_server: ThreadServer) -> None:
    """Joining is per SDK call, never per body: two calls with equal bodies are two pieces of work."""
    engine = engine_of(app_server, SLOW)
    runs_before = engine.scheduler.items_run
    client = make_client(app_server.url, retries={"total_max_attempts": 1})
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: embed(client, SLOW, "same words"), range(2)))
    assert outcomes[0] == outcomes[1]
    assert engine.scheduler.items_run - runs_before == 2
    # Without the header (curl, httpx) nothing is joined either.
    for _ in range(2):
        assert httpx.post(f"{app_server.url}/model/{SLOW}/invoke", content=json.dumps({"inputText": "same words"}),
                          headers={"content-type": "application/json"}, timeout=30).status_code == 200
    assert engine.scheduler.items_run - runs_before == 4


def test_abandoned_work_is_cancelled_when_no_retry_comes(app_server: ThreadServer) -> None:
    engine = engine_of(app_server, VERY_SLOW)
    joiner = app_server.app.state.runtime.retries
    joiner.grace_s = 1.0  # the default (10 s) waits out botocore's backoff; no retry comes here
    try:
        cancelled_before, abandoned_before = engine.cancelled_runs, joiner.abandoned
        client = make_client(app_server.url, read_timeout=1, retries={"total_max_attempts": 1})
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            embed(client, VERY_SLOW, "FAULT:slow nobody waits")
        wait_until(lambda: engine.cancelled_runs > cancelled_before)
        assert time.monotonic() - started < 20  # stopped long before its 60 s
        assert joiner.abandoned == abandoned_before + 1
        wait_until(lambda: engine.scheduler.running == 0 and joiner.running == 0)
    finally:
        joiner.grace_s = 10.0


def test_joiner_replays_successes_not_failures_and_forgets_after_keep_s() -> None:
    from outcrop.errors import ThrottlingException
    from outcrop.retries import RetryJoiner

    calls: list[str] = []

    async def scenario() -> None:
        joiner = RetryJoiner(keep_s=0.2, grace_s=0.1)

        async def ok() -> str:
            calls.append("ok")
            return "result"

        async def busy() -> str:
            calls.append("busy")
            raise ThrottlingException("busy")

        assert await joiner.run(("id", 1), ok) == "result"
        assert await joiner.run(("id", 1), ok) == "result"  # a retry of a finished call: replayed
        assert calls == ["ok"] and joiner.replayed == 1
        for _ in range(2):  # a failed attempt's retry runs again
            with pytest.raises(ThrottlingException):
                await joiner.run(("id", 2), busy)
        assert calls == ["ok", "busy", "busy"]
        await asyncio.sleep(0.3)
        assert await joiner.run(("id", 1), ok) == "result" and calls[-1] == "ok"  # expired: runs anew
        assert await joiner.run(None, ok) == "result" and calls.count("ok") == 3  # no key: never joined

    asyncio.run(scenario())
