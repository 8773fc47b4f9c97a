"""A small run of bench/load.py against the session server: mixed valid and invalid requests at
concurrency 16. No 5xx, no lost responses, bounded memory growth (no timing assertions)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load.py"


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("outcrop_bench_load", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_small_mixed_load(server) -> None:  # type: ignore[no-untyped-def]
    bench = load_bench()
    report = asyncio.run(bench.run_load(server.url, server.process.pid, requests=300, concurrency=16, warmup=32))
    print("\n" + report.text())
    assert report.lost == 0
    assert report.server_errors == 0
    assert sum(report.outcomes.values()) == 300
    assert report.outcomes["200 ok"] > 100 and report.outcomes["400 ValidationException"] > 50
    assert report.rss_after <= 1.2 * report.rss_warm


def test_keep_alive_survives_early_refusals(server) -> None:  # type: ignore[no-untyped-def]
    """Requests refused before their body is read (unknown model, unsupported operation) must not
    cost the client its keep-alive connection: the next request on it is answered."""
    import httpx

    body = b'{"messages": [{"role": "user", "content": [{"text": "' + b"x" * 2000 + b'"}]}]}'
    lost = 0
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for i in range(150):
            path = ["/model/amazon.titan-embed-image-v1/converse", "/model/nope.model-v1/invoke", "/guardrail/g/version/1/apply"][i % 3]
            try:
                assert client.post(path, content=body).status_code in (400, 404)
            except httpx.RemoteProtocolError:
                lost += 1
    assert lost == 0
