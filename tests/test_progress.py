"""outcrop's progress stream (`GET /outcrop/v1/progress/{id}`): an InvokeModel sent by boto3 with the header
`X-Outcrop-Progress-Id` reports each denoising step, then `done` (a failed attempt: `failed`, and the stream stays
open for the SDK's retry); the Bedrock body is unchanged."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from servers import ServerProcess


def follow(url: str, progress_id: str, until: frozenset[str] = frozenset({"done", "error"})) -> tuple[queue.Queue[tuple[str, dict[str, Any]]], threading.Thread]:
    """Read the SSE stream in a thread; events go to the queue as (event, data)."""
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def read() -> None:
        with httpx.stream("GET", f"{url}/outcrop/v1/progress/{progress_id}", timeout=60) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: ") and name is not None:
                    events.put((name, json.loads(line[len("data: "):])))
                    if name in until:
                        return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return events, thread


def drain(events: queue.Queue[tuple[str, dict[str, Any]]], thread: threading.Thread) -> Iterator[tuple[str, dict[str, Any]]]:
    thread.join(60)
    while not events.empty():
        yield events.get()


EVENT = "before-sign.bedrock-runtime.InvokeModel"


def with_header(client: Any, progress_id: str) -> Any:
    """Add the header to this client's InvokeModel calls; returns the handler (to unregister)."""
    def add(request: Any, **_: Any) -> None:
        request.headers["X-Outcrop-Progress-Id"] = progress_id

    client.meta.events.register(EVENT, add)
    return add


@pytest.mark.parametrize("model_id, body", [
    ("stability.stable-diffusion-xl-v1", {"text_prompts": [{"text": "a lighthouse"}], "steps": 150, "seed": 3}),
    ("amazon.titan-image-generator-v2:0", {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a lighthouse"},
                                           "imageGenerationConfig": {"width": 512, "height": 512, "seed": 3}}),
])
def test_steps_then_done(server: ServerProcess, bedrock: Any, model_id: str, body: dict[str, Any]) -> None:
    progress_id = f"test-{model_id.split('.')[0]}-steps"
    events, thread = follow(server.url, progress_id)
    assert events.get(timeout=30) == ("ready", {"id": progress_id})
    handler = with_header(bedrock, progress_id)
    try:
        response = bedrock.invoke_model(modelId=model_id, body=json.dumps(body))
    finally:
        bedrock.meta.events.unregister(EVENT, handler)
    assert json.loads(response["body"].read())
    seen = [event for event in drain(events, thread) if event[1].get("error") != "ModelNotReadyException"]  # botocore retried
    steps = [data for name, data in seen if name == "step"]
    assert steps, seen
    assert [s["step"] for s in steps] == list(range(1, steps[0]["steps"] + 1))  # every step, in order
    assert seen[-1] == ("done", {})


def test_a_refused_request_is_a_failed_event(server: ServerProcess, bedrock: Any) -> None:
    progress_id = "test-refused-0001"
    events, thread = follow(server.url, progress_id, until=frozenset({"failed"}))
    assert events.get(timeout=30)[0] == "ready"
    handler = with_header(bedrock, progress_id)
    try:
        with pytest.raises(bedrock.exceptions.ValidationException):
            bedrock.invoke_model(modelId="stability.stable-diffusion-xl-v1",
                                 body=json.dumps({"text_prompts": [{"text": "x"}], "width": 10}))
    finally:
        bedrock.meta.events.unregister(EVENT, handler)
    (name, data), = drain(events, thread)
    assert name == "failed" and data["error"] == "ValidationException" and "width" in data["message"]


def test_bad_ids(server: ServerProcess, bedrock: Any) -> None:
    assert httpx.get(f"{server.url}/outcrop/v1/progress/short").status_code == 400
    handler = with_header(bedrock, "bad id!")
    try:
        with pytest.raises(bedrock.exceptions.ValidationException, match="X-Outcrop-Progress-Id"):
            bedrock.invoke_model(modelId="stability.stable-diffusion-xl-v1", body=json.dumps({"text_prompts": [{"text": "x"}]}))
    finally:
        bedrock.meta.events.unregister(EVENT, handler)
