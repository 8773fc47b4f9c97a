"""Prometheus metrics at `/metrics`, and one structured access-log line per request.

Both come from one pure ASGI middleware that sees every request: operation and model come from the
raw path (the model label only for ids the table serves, so random ids cannot blow up label
cardinality), the outcome from the status and `x-amzn-ErrorType`. Queue depth, batch sizes,
loaded models and device memory are read from the engine pool at scrape time.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outcrop.engines.scheduler import BatchScheduler
from outcrop.errors import BedrockError
from outcrop.server.operations import operation_of, raw_path_of
from outcrop.runtime import Runtime

access_log = logging.getLogger("outcrop.access")
METRICS_PATH = "/metrics"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _PoolCollector:
    """Reads the engine pool at scrape time: nothing on the request path pays for these."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Any]:
        depth = GaugeMetricFamily("outcrop_queue_depth", "Requests waiting in a model's queue.", labels=["model"])
        running = GaugeMetricFamily("outcrop_batch_running", "Items in the batch a model is running now.", labels=["model"])
        batches = HistogramMetricFamily("outcrop_batch_size", "Items per batch run by a model.", labels=["model"])
        state = GaugeMetricFamily("outcrop_model_loaded", "1 when a model's engine is loaded and serving.", labels=["model", "state"])
        for row in self.runtime.pool.status():
            state.add_metric([row["model"], row["state"]], 1.0 if row["state"] == "ready" else 0.0)
        for model, scheduler in _schedulers(self.runtime):
            depth.add_metric([model], scheduler.depth)
            running.add_metric([model], scheduler.running)
            sizes = scheduler.batch_sizes
            buckets = [(str(float(bound)), sum(n for size, n in sizes.items() if size <= bound)) for bound in BATCH_BUCKETS]
            buckets.append(("+Inf", scheduler.batches_run))
            batches.add_metric([model], buckets, sum_value=float(scheduler.items_run))
        yield from (depth, running, batches, state)
        torch = sys.modules.get("torch")  # never import torch just to be scraped
        if torch is not None and torch.cuda.is_available():
            memory = GaugeMetricFamily("outcrop_device_memory_bytes", "Device memory allocated by tensors.", labels=["device"])
            reserved = GaugeMetricFamily("outcrop_device_memory_reserved_bytes", "Device memory held by the caching allocator.", labels=["device"])
            for index in range(torch.cuda.device_count()):
                memory.add_metric([f"cuda:{index}"], torch.cuda.memory_allocated(index))
                reserved.add_metric([f"cuda:{index}"], torch.cuda.memory_reserved(index))
            yield from (memory, reserved)


def _schedulers(runtime: Runtime) -> Iterable[tuple[str, BatchScheduler[Any, Any]]]:
    for model, engine in runtime.pool.loaded():
        for value in vars(engine).values():
            if isinstance(value, BatchScheduler):
                yield model, value


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "outcrop_requests", "Requests answered, by operation, model and outcome (ok or the AWS error code).",
            ["operation", "model", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "outcrop_request_duration_seconds", "Time from request to the last response byte.", ["operation"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=self.registry,
        )
        self.in_flight = Gauge("outcrop_requests_in_flight", "Requests being served now.", registry=self.registry)
        self.registry.register(_PoolCollector(runtime))
        ProcessCollector(registry=self.registry)

    def model_label(self, model_id: str | None) -> str:
        if model_id is None:
            return ""
        try:
            return self.runtime.table.resolve(model_id).model_id
        except BedrockError:
            return "unknown"

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Observe:
    """Counts, times and logs every HTTP request; answers `GET /metrics`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = raw_path_of(scope)
        if path == METRICS_PATH and scope["method"] == "GET":
            body = self.metrics.exposition()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        operation = operation_of(path, scope["method"])
        started = time.monotonic()
        status, outcome = 500, "InternalServerException"

        async def observed_send(message: Message) -> None:
            nonlocal status, outcome
            if message["type"] == "http.response.start":
                status = message["status"]
                error_type = next((v.decode("latin-1") for k, v in message.get("headers", []) if k.lower() == b"x-amzn-errortype"), None)
                outcome = error_type.split(":", 1)[0] if error_type else ("ok" if status < 400 else str(status))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            outcome = "disconnected" if status == 500 else outcome
            raise
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.monotonic() - started
            name = operation.name if operation else "other"
            model = self.metrics.model_label(operation.model_id if operation else None)
            self.metrics.requests.labels(name, model, outcome).inc()
            self.metrics.latency.labels(name).observe(elapsed)
            state = scope.get("state", {})
            access_log.info(
                "%s %s %d %s %.1fms", scope["method"], path[:300], status, outcome, elapsed * 1000,
                extra={"request_id": state.get("request_id"), "operation": name, "model": model, "status": status,
                       "outcome": outcome, "latency_ms": round(elapsed * 1000, 1), "principal": state.get("principal"),
                       "client": (scope.get("client") or ("", 0))[0]},
            )
