"""Request ids, JSON-lines access logs and Prometheus metrics of a real `outcrop serve` process."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from servers import ServerProcess

MODEL = "amazon.titan-embed-image-v1"
PROMPT = "a secret prompt about my bank account"


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("obs") / "server.log"
    proc = ServerProcess("--profile", "test", "--log-format", "json", log=log)
    proc.start()
    yield proc
    proc.stop()


def samples(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def log_lines(proc: ServerProcess) -> list[dict]:  # type: ignore[type-arg]
    assert proc.log_path is not None
    lines = []
    for line in proc.log_path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_json_access_log_and_metrics(json_server: ServerProcess) -> None:
    client = boto3.client("bedrock-runtime", endpoint_url=json_server.url, config=Config(retries={"max_attempts": 1}))
    ok = client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": PROMPT}))
    request_id = ok["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as bad:
        client.invoke_model(modelId=MODEL, body=b'{"inputText": 5}')
    for i in range(5):  # random model ids must not create new label values
        with pytest.raises(ClientError):
            client.invoke_model(modelId=f"made.up-model-{i}", body=b"{}")
    time.sleep(0.3)

    lines = log_lines(json_server)
    access = {line["request_id"]: line for line in lines if line.get("logger") == "outcrop.access"}
    line = access[request_id]
    assert line["operation"] == "InvokeModel" and line["model"] == MODEL
    assert line["status"] == 200 and line["outcome"] == "ok" and line["latency_ms"] > 0
    failed = access[bad.value.response["ResponseMetadata"]["RequestId"]]
    assert failed["outcome"] == "ValidationException" and failed["status"] == 400
    assert PROMPT not in json_server.log_path.read_text()  # type: ignore[union-attr]

    metrics = samples(json_server.url)
    requests = {(s["operation"], s["model"], s["outcome"]): v for s, v in metrics["outcrop_requests_total"]}
    assert requests[("InvokeModel", MODEL, "ok")] >= 1
    assert requests[("InvokeModel", MODEL, "ValidationException")] >= 1
    assert requests[("InvokeModel", "unknown", "ValidationException")] >= 5
    assert not any(model.startswith("made.up") for _, model, _ in requests)
    assert any(s["operation"] == "InvokeModel" and v >= 2 for s, v in metrics["outcrop_request_duration_seconds_count"])
    assert [v for s, v in metrics["outcrop_queue_depth"] if s["model"] == MODEL] == [0]
    assert any(s["model"] == MODEL and v >= 1 for s, v in metrics["outcrop_batch_size_count"])
    assert any(s["state"] == "ready" and v == 1 for s, v in metrics["outcrop_model_loaded"])
    assert metrics["process_resident_memory_bytes"][0][1] > 10_000_000


def test_every_response_has_a_request_id(json_server: ServerProcess) -> None:
    for method, path in [("GET", "/health"), ("GET", "/nope"), ("POST", f"/model/{MODEL}/invoke"), ("GET", "/metrics")]:
        response = httpx.request(method, f"{json_server.url}{path}", content=b"" if method == "POST" else None)
        assert response.headers.get("x-amzn-requestid"), path
