"""Queueing, deadlines, loading and batching of a real embeddings engine behind a real server, set up with
a `--models`-style override file (the options the scheduler reads) and real boto3 clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from outcrop.config import Settings
from outcrop.server.app import build_app
from servers import ThreadServer

MODEL = "amazon.titan-embed-image-v1"
BODY = json.dumps({"inputText": "a red car"})


def models_file(folder: Path, **options: Any) -> Path:
    """An override file replacing the test profile's embeddings entry with the given scheduler options."""
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in options.items())
    path = folder / "models.toml"
    path.write_text(
        f'[models."{MODEL}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\n'
        f'weights = "builtin:tiny-siglip"\ndtype = "float32"\ndevice = "cpu"\noptions = {{ {inline} }}\n'
    )
    return path


@contextmanager
def serving(tmp_path: Path, load_wait_s: float = 20.0, **options: Any) -> Iterator[ThreadServer]:
    settings = Settings.from_env(profile="test", models_file=models_file(tmp_path, **options), load_wait_s=load_wait_s)
    with ThreadServer(build_app(settings)) as server:
        yield server


def client(url: str, retries: bool = False) -> Any:
    # botocore's `max_attempts` counts retries; `total_max_attempts` counts the first call too.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}) if not retries else None
    return boto3.client("bedrock-runtime", endpoint_url=url, config=config)


def scheduler_of(server: ThreadServer) -> Any:
    engines = [slot.engine for slot in server.app.state.runtime.pool._slots.values() if slot.engine is not None]
    assert len(engines) == 1
    return engines[0].scheduler


def warm(url: str) -> None:
    client(url).invoke_model(modelId=MODEL, body=BODY)["body"].read()


def test_full_queue_is_throttled(tmp_path: Path) -> None:
    # One queue slot; the collector holds a lone item 600 ms waiting for company, so a second caller finds
    # the queue full.
    with serving(tmp_path, max_queue=1, max_batch=2, max_wait_ms=600) as server:
        warm(server.url)
        no_retry = client(server.url)
        first = ThreadPoolExecutor(1).submit(no_retry.invoke_model, modelId=MODEL, body=BODY)
        while scheduler_of(server).depth == 0 and not first.done():
            threading.Event().wait(0.005)
        with pytest.raises(no_retry.exceptions.ThrottlingException) as raised:
            no_retry.invoke_model(modelId=MODEL, body=BODY)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert "Too many requests" in raised.value.response["Error"]["Message"]
        assert len(json.loads(first.result()["body"].read())["embedding"]) == 1024


def test_deadline_is_model_timeout(tmp_path: Path) -> None:
    # 50 ms budget, but a lone item waits 500 ms for company before it runs.
    with serving(tmp_path, timeout_s=0.05, max_batch=4, max_wait_ms=500) as server:
        no_retry = client(server.url)
        with pytest.raises(no_retry.exceptions.ModelTimeoutException) as raised:
            no_retry.invoke_model(modelId=MODEL, body=BODY)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
        assert "timed out" in raised.value.response["Error"]["Message"]


def test_loading_model_is_not_ready_and_the_sdk_retries(tmp_path: Path) -> None:
    with serving(tmp_path, load_wait_s=0) as server:
        no_retry = client(server.url)
        with pytest.raises(no_retry.exceptions.ModelNotReadyException) as raised:
            no_retry.invoke_model(modelId=MODEL, body=BODY)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert "is loading its weights" in raised.value.response["Error"]["Message"]
        # A plain boto3 client retries ModelNotReadyException by itself (botocore's standard mode: 3 attempts,
        # ~1.5 s of backoff on average); calling again until the weights are in gets the embedding.
        retrying = client(server.url, retries=True)
        attempts: list[int] = []
        deadline = time.monotonic() + 60
        while True:
            try:
                response = retrying.invoke_model(modelId=MODEL, body=BODY)
                attempts.append(response["ResponseMetadata"]["RetryAttempts"])
                break
            except retrying.exceptions.ModelNotReadyException as exc:
                attempts.append(exc.response["ResponseMetadata"]["RetryAttempts"])
                assert time.monotonic() < deadline, attempts
        assert attempts[0] >= 1, attempts  # the SDK itself retried the not-ready answer
        assert len(json.loads(response["body"].read())["embedding"]) == 1024


def test_concurrent_requests_are_batched(tmp_path: Path) -> None:
    with serving(tmp_path, max_batch=8, max_wait_ms=50, max_queue=64) as server:
        warm(server.url)
        scheduler = scheduler_of(server)
        batches, items = scheduler.batches_run, scheduler.items_run
        callers = [client(server.url) for _ in range(16)]
        texts = [f"sentence {i}" for i in range(16)]
        with ThreadPoolExecutor(16) as pool:
            vectors = list(pool.map(
                lambda pair: json.loads(pair[0].invoke_model(modelId=MODEL, body=json.dumps({"inputText": pair[1]}))["body"].read())["embedding"],
                zip(callers, texts),
            ))
        assert len({tuple(v[:4]) for v in vectors}) == 16
        ran_batches, ran_items = scheduler.batches_run - batches, scheduler.items_run - items
        assert ran_items == 16
        assert ran_batches < ran_items, (ran_batches, ran_items)


def test_concurrent_texts_of_different_lengths(tmp_path: Path) -> None:
    """Batches of texts of many lengths while other requests are being tokenized for their token count:
    the tokenizer is shared by the event loop and the worker thread and must not lose its padding."""
    with serving(tmp_path, max_batch=8, max_wait_ms=20, max_queue=256) as server:
        warm(server.url)
        texts = [" ".join(["word"] * (1 + i % 25)) + f" {i}" for i in range(400)]
        callers = [client(server.url) for _ in range(32)]

        def one(i: int) -> int:
            body = json.dumps({"inputText": texts[i]})
            return len(json.loads(callers[i % 32].invoke_model(modelId=MODEL, body=body)["body"].read())["embedding"])

        with ThreadPoolExecutor(32) as pool:
            assert set(pool.map(one, range(len(texts)))) == {1024}
        scheduler = scheduler_of(server)
        assert scheduler.batches_run < scheduler.items_run
