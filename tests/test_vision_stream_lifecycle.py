"""ConverseStream edge paths, on the real app in a thread (so the engine can be inspected): a client
that goes away mid-stream frees the generation slot at once; an error mid-stream arrives as an
exception event that botocore raises as EventStreamError."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import EventStreamError

from conftest import make_client
from images import image_bytes
from servers import ThreadServer

LONG = "amazon.nova-lite-v1:0"  # long generations allowed: a stream that would run for many seconds
SHORT_DEADLINE = "amazon.nova-pro-v1:0"  # stream deadline of 3 s
MODELS = f"""
[models."{LONG}"]
protocol = "converse"
engine = "vision-chat"
weights = "builtin:tiny-qwen2.5-vl"
dtype = "float32"
device = "cpu"
options = {{ max_output_tokens = 16000, context_tokens = 32768, stream_timeout_s = 600 }}

[models."{SHORT_DEADLINE}"]
protocol = "converse"
engine = "vision-chat"
weights = "builtin:tiny-qwen2.5-vl"
dtype = "float32"
device = "cpu"
options = {{ max_output_tokens = 16000, context_tokens = 32768, stream_timeout_s = 3 }}
"""


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", MODELS, tmp_path_factory.mktemp("models")) as server:
        yield server


def engine_of(server: ThreadServer, model_id: str) -> Any:
    return server.engine(model_id)


def watch_generations(engine: Any) -> list[tuple[bool, Any]]:
    """Record (cancelled when it ended, result) for each job the real engine's batches run."""
    seen: list[tuple[bool, Any]] = []
    original = engine._run_batch

    def recording(jobs: Any) -> Any:
        results = original(jobs)
        seen.extend((job.cancelled.is_set(), result) for job, result in zip(jobs, results))
        return results

    engine._run_batch = recording
    engine.scheduler._run_batch = recording
    return seen


def wait_until(condition: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def body(max_tokens: int) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": base64.b64encode(image_bytes()).decode()}}},
        {"text": "describe the image at length"}]}], "inferenceConfig": {"maxTokens": max_tokens}}).encode()


def test_client_gone_mid_stream_frees_the_slot(app_server: ThreadServer) -> None:
    engine = engine_of(app_server, LONG)
    seen = watch_generations(engine)
    frames = 0
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", f"{app_server.url}/model/{LONG}/converse-stream", content=body(15000),
                           headers={"content-type": "application/json"}) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                frames += chunk.count(b"contentBlockDelta")
                if frames >= 3:
                    break  # leave after a few tokens: the with-block closes the connection
    wait_until(lambda: bool(seen) and engine.scheduler.running == 0)
    cancelled, result = seen[0]
    assert cancelled, "the generation ended before the client left; it should have been cut short by the disconnect"
    assert result.output_tokens < 15000
    # the slot is free: the next request runs (a second generation, not queued behind the first)
    answer = make_client(app_server.url, retries={"max_attempts": 1}).converse(
        modelId=LONG, inferenceConfig={"maxTokens": 4},
        messages=[{"role": "user", "content": [{"text": "hello"}]}])
    assert answer["usage"]["outputTokens"] >= 1
    # A row is answered as soon as it finishes, before its batch returns: wait for the batch to be recorded.
    wait_until(lambda: len(seen) == 2)
    assert engine.scheduler.depth == 0


def test_error_mid_stream_is_an_exception_event(app_server: ThreadServer) -> None:
    engine = engine_of(app_server, SHORT_DEADLINE)
    seen = watch_generations(engine)
    client = make_client(app_server.url, retries={"max_attempts": 1}, read_timeout=120)
    stream = client.converse_stream(modelId=SHORT_DEADLINE, inferenceConfig={"maxTokens": 15000},
                                     messages=[{"role": "user", "content": [{"text": "write a long story"}]}])["stream"]
    events: list[str] = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            events.extend(event)
    assert events[0] == "messageStart" and "contentBlockDelta" in events  # the error came after frames
    error = caught.value.response["Error"]
    assert error["Code"] == "modelStreamErrorException"  # ConverseStream's union has no modelTimeoutException
    assert "timed out" in error["Message"]
    wait_until(lambda: bool(seen) and engine.scheduler.running == 0)
    assert seen[0][0] and seen[0][1].output_tokens < 15000  # the deadline also stopped the generation
