"""Image generation under faults, on the real app in a thread (so the diffusion engine can be
inspected): a client that goes away stops its generation at the next denoising step; a full queue
answers ThrottlingException; a request over its time budget answers ModelTimeoutException and its
generation stops too. Real boto3 clients and real HTTP throughout."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import make_client
from servers import ThreadServer

LONG = "test.sdxl-long-v1"  # Bedrock steps 10..150 -> 60..400 denoising steps (~17 steps/s here); queue of 1
DEADLINE = "test.sdxl-deadline-v1"  # the same, with a 2 s time budget
STEPS = 400
ENGINE = """protocol = "stability-sdxl"
engine = "diffusion"
weights = "builtin:tiny-sdxl-images"
dtype = "float32"
device = "cpu"
"""
MODELS = f"""
[models."{LONG}"]
{ENGINE}options = {{ max_render_side = 64, size_multiple = 16, min_steps = 60, max_steps = {STEPS}, max_queue = 1, timeout_s = 600 }}

[models."{DEADLINE}"]
{ENGINE}options = {{ max_render_side = 64, size_multiple = 16, min_steps = {STEPS}, max_steps = {STEPS}, timeout_s = 2 }}
"""
BODY = json.dumps({"text_prompts": [{"text": "a lighthouse at night"}], "seed": 3, "width": 1024, "height": 1024,
                   "steps": 150})


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", MODELS, tmp_path_factory.mktemp("models")) as server:
        yield server


class Watch:
    """What the real engine did: the denoising steps it ran and how each generation ended."""

    def __init__(self, server: ThreadServer, model_id: str) -> None:
        runtime = server.app.state.runtime
        assert server._loop is not None
        self.engine = asyncio.run_coroutine_threadsafe(
            runtime.pool.get(runtime.table.resolve(model_id), wait_s=300), server._loop).result()
        self.steps: list[int] = []
        self.endings: list[str] = []
        self.engine.step_listener = lambda step, _total: self.steps.append(step)
        original = self.engine.__class__.run

        def run(task: Any, cancelled: threading.Event | None = None) -> Any:
            self.steps.clear()
            try:
                result = original(self.engine, task, cancelled)
            except Exception as exc:
                self.endings.append(type(exc).__name__)
                raise
            self.endings.append("finished")
            return result

        self.engine.run = run

    def wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.engine.scheduler.running or self.engine.scheduler.depth:
            assert time.monotonic() < deadline, "the engine is still busy"
            time.sleep(0.05)

    def wait_steps(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.steps) < count:
            assert time.monotonic() < deadline, "the generation did not start"
            time.sleep(0.02)


def send_raw(server: ThreadServer, model: str) -> socket.socket:
    """Send a generation over a plain socket (no SDK retry headers), so the test decides when to hang up."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"POST /model/{model}/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(BODY)}\r\n\r\n{BODY}").encode())
    return sock


def test_client_gone_stops_the_generation_at_the_next_step(app_server: ThreadServer) -> None:
    watch = Watch(app_server, LONG)
    sock = send_raw(app_server, LONG)
    watch.wait_steps(3)
    sock.close()  # the client goes away mid-generation
    gone_at = len(watch.steps)
    watch.wait_idle()
    assert watch.endings == ["_Cancelled"]
    assert len(watch.steps) < STEPS and len(watch.steps) <= gone_at + 20  # stopped within a few steps, not at the end
    assert watch.engine.scheduler.depth == 0


def test_full_queue_is_throttled(app_server: ThreadServer) -> None:
    """max_queue = 1: one generation running and one waiting; the next is refused at once."""
    watch = Watch(app_server, LONG)
    running = send_raw(app_server, LONG)
    watch.wait_steps(2)
    waiting = send_raw(app_server, LONG)
    deadline = time.monotonic() + 30
    while watch.engine.scheduler.depth < 1:
        assert time.monotonic() < deadline, "the second request was not queued"
        time.sleep(0.02)
    client = make_client(app_server.url, retries={"total_max_attempts": 1})
    started = time.monotonic()
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.invoke_model(modelId=LONG, body=BODY)
    assert time.monotonic() - started < 10  # answered at once, not after the generations ahead of it
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    waiting.close()
    running.close()
    watch.wait_idle()
    assert watch.endings == ["_Cancelled"]  # the waiting one was dropped before it ran


def test_over_the_time_budget_is_a_model_timeout_and_stops(app_server: ThreadServer) -> None:
    watch = Watch(app_server, DEADLINE)
    client = make_client(app_server.url, retries={"total_max_attempts": 1}, read_timeout=120)
    started = time.monotonic()
    with pytest.raises(client.exceptions.ModelTimeoutException) as caught:
        client.invoke_model(modelId=DEADLINE, body=BODY)
    assert 1.5 < time.monotonic() - started < 30
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
    watch.wait_idle()
    assert watch.endings == ["_Cancelled"] and len(watch.steps) < STEPS


def test_sdk_retries_after_read_timeouts_reuse_the_one_generation(app_server: ThreadServer) -> None:
    """botocore retries a read timeout with the same amz-sdk-invocation-id; the retry joins the running
    generation (outcrop/retries.py) instead of rendering the image again behind it."""
    watch = Watch(app_server, LONG)
    runs_before = watch.engine.scheduler.items_run
    client = make_client(app_server.url, read_timeout=2, retries={"total_max_attempts": 6})
    started = time.monotonic()
    body = json.loads(client.invoke_model(modelId=LONG, body=json.dumps(
        {"text_prompts": [{"text": "a harbour"}], "seed": 5, "steps": 50}))["body"].read())  # 157 steps: 3-10 s
    assert time.monotonic() - started > 2  # at least one attempt timed out on the client
    assert body["artifacts"][0]["finishReason"] == "SUCCESS"
    assert watch.engine.scheduler.items_run - runs_before == 1 and watch.endings == ["finished"]
