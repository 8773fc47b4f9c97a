"""Engine budgets come from the SDK's retry schedule (outcrop/engines/budgets.py): a non-streaming call
that needs longer than botocore's 60 s read timeout is answered on the SDK's next attempt, which joins
the running work, instead of failing at a budget shorter than one read timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest

from outcrop.engines import engine_class
from outcrop.engines.budgets import BudgetOptions, retry_schedule_budget_s
from outcrop.registry.model_table import load_model_table
from servers import ThreadServer, fault_model_toml

SLOWER_THAN_A_READ_TIMEOUT = "test.slower-than-60s-v1"


def test_the_default_budget_is_three_read_timeouts_less_a_margin() -> None:
    assert retry_schedule_budget_s() == 175.0
    assert BudgetOptions().request_budget_s == 175.0
    assert BudgetOptions(sdk_attempts=5).request_budget_s == 295.0  # botocore's legacy mode
    assert BudgetOptions(sdk_read_timeout_s=120, sdk_attempts=1).request_budget_s == 115.0
    assert BudgetOptions(timeout_s=20).request_budget_s == 20.0  # an explicit budget wins


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_real_profiles_give_every_engine_the_retry_schedule(profile: str) -> None:
    """No shipped engine of a real profile gives up before botocore's third attempt could be answered."""
    table = load_model_table(profile)
    for entry in table:
        options = engine_class(entry.engine).parse_options(entry)
        assert isinstance(options, BudgetOptions), entry.engine
        assert options.request_budget_s >= 175.0, (entry.model_id, options.request_budget_s)


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    # No timeout_s: the engine takes its budget from the retry schedule, as the real profiles do.
    models = fault_model_toml(SLOWER_THAN_A_READ_TIMEOUT, max_batch=1, slow_s=63, max_queue=4)
    with ThreadServer.for_profile("test", models, tmp_path_factory.mktemp("models")) as server:
        yield server


def test_a_call_longer_than_one_read_timeout_completes_with_the_default_client(slow_server: ThreadServer) -> None:
    engine = slow_server.engine(SLOWER_THAN_A_READ_TIMEOUT)
    joiner = slow_server.app.state.runtime.retries
    runs_before, joined_before = engine.scheduler.items_run, joiner.joined + joiner.replayed
    client = boto3.client("bedrock-runtime", endpoint_url=slow_server.url)  # botocore's defaults: 60 s, retries on
    started = time.monotonic()
    response = client.invoke_model(modelId=SLOWER_THAN_A_READ_TIMEOUT, body=json.dumps({"inputText": "FAULT:slow seed"}))
    elapsed = time.monotonic() - started
    assert len(json.loads(response["body"].read())["embedding"]) == 1024
    assert elapsed > 60  # the first attempt hit the client's read timeout ...
    assert joiner.joined + joiner.replayed > joined_before  # ... and a retry took the first attempt's result
    assert engine.scheduler.items_run - runs_before == 1  # the work ran once
