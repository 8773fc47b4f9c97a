"""Concurrent chats on the tiny Qwen2.5-VL share forward passes (dynamic batching), through the real app
in a thread and real boto3 clients. Each test first asks its requests one at a time (a batch of one
each) and then all at once, and checks the batch gave the same answers (greedy), that a batch really
ran (the scheduler's batch sizes), and the per-row behaviour: budgets, stop sequences, JSON, streams,
cancellation, sampling kinds that may not share a batch, and out of memory in a batch."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from conftest import make_client
from images import image_bytes, shape_image
from servers import ThreadServer

MODEL = "amazon.nova-lite-v1:0"
# batch_wait_s: requests started together reach the queue within this window, so they share one batch
MODELS = f"""
[models."{MODEL}"]
protocol = "converse"
engine = "vision-chat"
weights = "builtin:tiny-qwen2.5-vl"
dtype = "float32"
device = "cpu"
options = {{ max_output_tokens = 2000, context_tokens = 4096, max_batch = 4, batch_wait_s = 0.4 }}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", MODELS, tmp_path_factory.mktemp("models")) as server:
        yield server


@pytest.fixture(scope="module")
def engine(server: ThreadServer) -> Any:
    return server.engine(MODEL)


def client(server: ThreadServer) -> Any:
    return make_client(server.url, retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120)


def request(text: str, image: tuple[tuple[int, int, int], tuple[int, int]] | None = None, **config: Any) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if image:
        content.append({"image": {"format": "png", "source": {"bytes": image_bytes(shape_image(*image))}}})
    content.append({"text": text})
    return {"modelId": MODEL, "messages": [{"role": "user", "content": content}], "inferenceConfig": config}


def answer(response: dict[str, Any]) -> tuple[str, str, int, int]:
    usage = response["usage"]
    return response["output"]["message"]["content"][0]["text"], response["stopReason"], usage["inputTokens"], usage["outputTokens"]


def one_by_one(server: ThreadServer, requests: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    c = client(server)
    return [answer(c.converse(**r)) for r in requests]


def all_at_once(server: ThreadServer, calls: list[Callable[[Any], Any]]) -> list[Any]:
    """Run each call with its own client, all started together."""
    clients = [client(server) for _ in calls]  # made here: botocore's client creation is not thread-safe
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call, c) for call, c in zip(calls, clients)]]


def converse_all(server: ThreadServer, requests: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return all_at_once(server, [lambda c, r=r: answer(c.converse(**r)) for r in requests])


def idle_batches(engine: Any) -> Counter[int]:
    """The scheduler's batch sizes once its last batch is booked (answers leave before their batch ends)."""
    deadline = time.monotonic() + 30
    while engine.scheduler.running or engine.scheduler.depth:
        assert time.monotonic() < deadline, "the scheduler did not go idle"
        time.sleep(0.02)
    time.sleep(0.05)
    return Counter(engine.scheduler.batch_sizes)


def new_batches(engine: Any, before: Counter[int]) -> Counter[int]:
    return idle_batches(engine) - before


def watch_jobs(engine: Any) -> list[tuple[bool, Any]]:
    """Record (cancelled when its batch ended, result) for each job of each batch the engine runs."""
    seen: list[tuple[bool, Any]] = []
    original = engine._run_batch

    def recording(jobs: Any) -> Any:
        results = original(jobs)
        seen.extend((job.cancelled.is_set(), result) for job, result in zip(jobs, results))
        return results

    engine.scheduler._run_batch = recording
    return seen


@pytest.fixture
def restore(engine: Any) -> Iterator[None]:
    run_batch, forward = engine.scheduler._run_batch, engine.model.forward
    yield
    engine.scheduler._run_batch = run_batch
    engine.model.forward = forward


MIXED = [
    request("describe the image", ((200, 30, 30), (96, 64)), maxTokens=40),
    request("hello there, how are you doing today my friend?", maxTokens=40),
    request("what does this document say", ((20, 200, 20), (200, 120)), maxTokens=40),
    request("x", ((0, 0, 255), (64, 64)), maxTokens=40),
]


def test_concurrent_answers_equal_sequential(server: ThreadServer, engine: Any) -> None:
    alone = one_by_one(server, MIXED)
    before = idle_batches(engine)
    together = converse_all(server, MIXED)
    assert new_batches(engine, before) == Counter({4: 1})  # one forward pass per step for all four
    assert together == alone  # text, stop reason and usage: padding is nobody's input token


def test_stream_in_a_batch_streams(server: ThreadServer, engine: Any) -> None:
    long = request("describe the image at length", ((30, 30, 200), (96, 64)), maxTokens=300)
    other = request("tell me a long story", maxTokens=300)
    reference = one_by_one(server, [long, other])
    assert reference[0][3] > 100 and reference[1][3] > 100, "the tiny model stopped early: pick other prompts"
    first_delta: list[float] = []
    ended: list[float] = []

    def stream(c: Any) -> tuple[str, int]:
        text, deltas = "", 0
        for event in c.converse_stream(**long)["stream"]:
            if "contentBlockDelta" in event:
                if not first_delta:
                    first_delta.append(time.monotonic())
                text += event["contentBlockDelta"]["delta"]["text"]
                deltas += 1
        return text, deltas

    def plain(c: Any) -> tuple[str, str, int, int]:
        result = answer(c.converse(**other))
        ended.append(time.monotonic())
        return result

    before = idle_batches(engine)
    (streamed, deltas), together = all_at_once(server, [stream, plain])
    assert new_batches(engine, before) == Counter({2: 1})
    assert first_delta[0] < ended[0]  # the stream's first text came while its batch was still decoding
    assert deltas > 10 and streamed == reference[0][0]
    assert together == reference[1]


def test_short_answer_does_not_wait_for_the_batch(server: ThreadServer, engine: Any) -> None:
    short, long = request("describe the image", maxTokens=4), request("tell me a long story", maxTokens=400)
    reference = one_by_one(server, [short, long])
    assert reference[1][3] > 200, "the tiny model stopped early: pick another prompt"
    done: dict[str, float] = {}

    def timed(name: str, body: dict[str, Any]) -> Callable[[Any], Any]:
        def call(c: Any) -> Any:
            result = answer(c.converse(**body))
            done[name] = time.monotonic()
            return result
        return call

    before = idle_batches(engine)
    together = all_at_once(server, [timed("short", short), timed("long", long)])
    assert new_batches(engine, before) == Counter({2: 1})
    assert together == reference
    assert done["short"] < done["long"] - 0.2  # answered when its row stopped, not when the batch did


def test_cancelled_stream_leaves_the_batch(server: ThreadServer, engine: Any, restore: None) -> None:
    others = [request("tell me a long story", maxTokens=300), request("describe the image", ((200, 30, 30), (96, 64)), maxTokens=300)]
    reference = one_by_one(server, others)
    image = base64.b64encode(image_bytes(shape_image((30, 30, 200), (96, 64)))).decode()
    wire = json.dumps({"messages": [{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": image}}}, {"text": "describe the image at length"}]}],
        "inferenceConfig": {"maxTokens": 1500}}).encode()
    seen = watch_jobs(engine)
    left_at: list[float] = []

    def leave_early(_c: Any) -> int:
        frames = 0
        with httpx.Client(timeout=60) as http:
            with http.stream("POST", f"{server.url}/model/{MODEL}/converse-stream", content=wire,
                             headers={"content-type": "application/json"}) as response:
                assert response.status_code == 200
                for chunk in response.iter_raw():
                    frames += chunk.count(b"contentBlockDelta")
                    if frames >= 3:
                        break  # the with-block closes the connection mid-stream
        left_at.append(time.monotonic())
        return frames

    calls: list[Callable[[Any], Any]] = [leave_early] + [lambda c, r=r: answer(c.converse(**r)) for r in others]
    before = idle_batches(engine)
    frames, *together = all_at_once(server, calls)
    assert new_batches(engine, before) == Counter({3: 1})
    assert frames >= 3 and together == reference  # the others finished, unchanged
    cancelled = [result for was_cancelled, result in seen if was_cancelled]
    assert len(cancelled) == 1 and len(seen) == 3
    assert cancelled[0].output_tokens < 300  # its row stopped long before the others' 300 tokens


def test_stop_sequences_and_budgets_per_row(server: ThreadServer, engine: Any) -> None:
    free = one_by_one(server, [request("tell me a long story", maxTokens=60),
                               request("describe the image at length", ((30, 30, 200), (96, 64)), maxTokens=60)])
    stops = [next(ch for ch in text[6:] if ch.strip()) for text, *_ in free]  # characters each row is known to produce
    rows = [
        request("tell me a long story", maxTokens=60, stopSequences=[stops[0]]),
        request("describe the image at length", ((30, 30, 200), (96, 64)), maxTokens=60, stopSequences=[stops[1]]),
        request("hello there, how are you doing today my friend?", maxTokens=3),
        request("describe the image", ((200, 30, 30), (96, 64)), maxTokens=17),
    ]
    alone = one_by_one(server, rows)
    before = idle_batches(engine)
    together = converse_all(server, rows)
    assert new_batches(engine, before) == Counter({4: 1})
    assert together == alone
    assert [r[1] for r in together[:2]] == ["stop_sequence", "stop_sequence"]
    assert stops[0] not in together[0][0] and stops[1] not in together[1][0]
    assert together[2][1:] == ("max_tokens", together[2][2], 3)
    assert together[3][3] <= 17


def test_json_mode_in_a_batch(server: ThreadServer, engine: Any) -> None:
    rows = [
        request("Answer in JSON: list the colors you see", maxTokens=80),
        request("tell me a long story", maxTokens=80),
        request("Reply as JSON with the fields name and age", maxTokens=12),
    ]
    alone = one_by_one(server, rows)
    before = idle_batches(engine)
    together = converse_all(server, rows)
    assert new_batches(engine, before) == Counter({3: 1})
    assert together == alone
    json.loads(together[0][0])
    json.loads(together[2][0])  # closed in time within its own 12-token budget
    with pytest.raises(json.JSONDecodeError):
        json.loads(together[1][0])  # the unconstrained row stayed unconstrained


def test_sampling_kinds_do_not_share_a_batch(server: ThreadServer, engine: Any) -> None:
    seeded = {**request("describe the image", maxTokens=20, temperature=1.0, topP=0.9),
              "additionalModelRequestFields": {"top_k": 50, "seed": 7}}
    greedy = [request("tell me a long story", maxTokens=20), request("describe the image", ((200, 30, 30), (96, 64)), maxTokens=20)]
    alone = one_by_one(server, [seeded, *greedy])
    before = idle_batches(engine)
    together = converse_all(server, [seeded, *greedy])
    assert new_batches(engine, before) == Counter({2: 1, 1: 1})  # the seeded one ran by itself
    assert together == alone


def test_out_of_memory_fails_only_the_job_that_does_not_fit(server: ThreadServer, engine: Any, restore: None) -> None:
    """A memory budget on the real model's forward pass (tokens in one call), as an accelerator has: the
    long prompt does not fit even alone, the short ones fit alone and together."""
    import torch

    short = [request("tell me a long story", maxTokens=30), request("describe the image", ((200, 30, 30), (96, 64)), maxTokens=30)]
    long = request("word " * 700, maxTokens=30)
    alone = one_by_one(server, short)
    forward = engine.model.forward
    budget = 600
    calls = Counter[int]()

    @functools.wraps(forward)  # generate checks its kwargs against the forward's signature
    def bounded(*args: Any, **kwargs: Any) -> Any:
        ids = kwargs.get("input_ids")
        if ids is not None and ids.numel() > budget:
            calls[ids.shape[0]] += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (a budget of the test)")
        return forward(*args, **kwargs)

    engine.model.forward = bounded
    before = idle_batches(engine)
    lock = threading.Lock()
    errors: list[ClientError] = []

    def long_call(c: Any) -> None:
        try:
            c.converse(**long)
        except ClientError as exc:
            with lock:
                errors.append(exc)

    _none, *together = all_at_once(server, [long_call] + [lambda c, r=r: answer(c.converse(**r)) for r in short])
    assert new_batches(engine, before) == Counter({3: 1})
    assert calls == Counter({3: 1, 1: 1})  # the batch, then the long prompt alone; the short ones fit alone
    assert together == alone
    assert len(errors) == 1
    error = errors[0].response
    assert error["Error"]["Code"] == "ModelErrorException" and "ran out of memory" in error["Error"]["Message"]
    assert one_by_one(server, short[:1]) == alone[:1]  # and the engine keeps serving


def test_a_prompt_past_the_context_is_refused_without_waiting_behind_the_batch(server: ThreadServer, engine: Any) -> None:
    """The prompt is processed and its budget checked before the job is queued: a too-long one is refused while a
    long answer is still decoding, and never reaches the worker."""
    busy = request("tell me a long story", maxTokens=400)
    too_long = request("lorem ipsum dolor sit amet " * 900, maxTokens=512)
    one_by_one(server, [request("hello", maxTokens=1)])  # loaded: the refusal below must not wait for weights
    idle_batches(engine)  # an answer leaves before its batch is booked
    runs_before = engine.scheduler.items_run
    refused_at: list[float] = []

    def refused(c: Any) -> str:
        time.sleep(0.5)  # the long answer is decoding by now
        with pytest.raises(ClientError) as caught:
            c.converse(**too_long)
        refused_at.append(time.monotonic())
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        return str(caught.value.response["Error"]["Message"])

    def long_answer(c: Any) -> float:
        assert answer(c.converse(**busy))[3] > 200
        return time.monotonic()

    finished, message = all_at_once(server, [long_answer, refused])
    assert "exceed its context window of 4096 tokens" in message
    assert refused_at[0] < finished  # answered while the batch ran, not after it
    idle_batches(engine)
    assert engine.scheduler.items_run - runs_before == 1  # only the long answer ever ran
