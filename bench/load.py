"""Bounded load test on loopback: mixed Bedrock operations, valid and invalid, at fixed concurrency.

    python bench/load.py                       # starts `outcrop serve --profile test` itself
    python bench/load.py --requests 2000 --concurrency 64
    python bench/load.py --url http://127.0.0.1:8080 --pid 1234   # an already running server

Checks: no 5xx (ThrottlingException is a 429 by design and counted apart), no lost responses (every
request gets an HTTP answer), server RSS after the run at most 1.2x its RSS after warm-up. Prints
p50/p90/p99 latency and the mix of outcomes. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from PIL import Image

MODEL = "amazon.titan-embed-image-v1"


def _png(seed: int) -> str:
    image = Image.new("RGB", (48, 32), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def request_mix(i: int, rng: random.Random) -> tuple[str, bytes, str]:
    """(path, body, kind) for request number i: ~60 % valid work, the rest invalid in varied ways."""
    kind = rng.choices(
        ["text", "image", "text+image", "bad-json", "bad-field", "bad-image", "unknown-model", "converse", "stream", "guardrail"],
        weights=[30, 15, 10, 8, 8, 6, 8, 6, 5, 4],
    )[0]
    path = f"/model/{MODEL}/invoke"
    body: object = {"inputText": f"load test sentence {i}"}
    if kind == "image":
        body = {"inputImage": _png(i)}
    elif kind == "text+image":
        body = {"inputText": f"caption {i}", "inputImage": _png(i), "embeddingConfig": {"outputEmbeddingLength": 256}}
    elif kind == "bad-json":
        return path, b'{"inputText": ', kind
    elif kind == "bad-field":
        body = {"inputText": "x", "temperature": 2}
    elif kind == "bad-image":
        body = {"inputImage": base64.b64encode(os.urandom(300)).decode()}
    elif kind == "unknown-model":
        path = f"/model/made.up-model-{i % 7}/invoke"
    elif kind == "converse":
        path = f"/model/{MODEL}/converse"
        body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    elif kind == "stream":
        path = f"/model/{MODEL}/invoke-with-response-stream"
    elif kind == "guardrail":
        path = "/guardrail/gr-1/version/1/apply"
        body = {"source": "INPUT", "content": [{"text": {"text": "hello"}}]}
    return path, json.dumps(body).encode(), kind


@dataclass
class Report:
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    server_errors: int = 0
    throttled: int = 0
    rss_warm: int = 0
    rss_after: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.server_errors == 0 and self.rss_after <= 1.2 * self.rss_warm

    def text(self) -> str:
        return "\n".join([
            f"requests {self.requests} in {self.seconds:.1f} s ({self.requests / self.seconds:.0f} req/s)",
            f"latency ms: p50 {self.percentile(50):.1f}  p90 {self.percentile(90):.1f}  p99 {self.percentile(99):.1f}  "
            f"max {max(self.latencies) * 1000:.1f}  mean {statistics.fmean(self.latencies) * 1000:.1f}",
            f"outcomes: {dict(sorted(self.outcomes.items()))}",
            f"lost responses {self.lost}, 5xx {self.server_errors}, throttled (429 by design) {self.throttled}",
            f"server RSS after warm-up {self.rss_warm / 2**20:.0f} MiB, after run {self.rss_after / 2**20:.0f} MiB "
            f"(ratio {self.rss_after / max(1, self.rss_warm):.3f}, limit 1.2)",
            "PASS" if self.ok else "FAIL",
        ])


def rss_of(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


async def run_load(url: str, pid: int, requests: int, concurrency: int, warmup: int = 64, seed: int = 7) -> Report:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for i in range(warmup):  # loads the model, fills caches and pools
            path, body, _ = request_mix(i, rng)
            await client.post(path, content=body)
        report = Report(requests=requests, seconds=0.0, rss_warm=rss_of(pid))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(requests):
            queue.put_nowait(i)

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                path, body, kind = request_mix(i, rng)
                started = time.perf_counter()
                try:
                    response = await client.post(path, content=body, headers={"content-type": "application/json"})
                    if kind == "stream" or kind == "converse":
                        await response.aread()
                except httpx.HTTPError as exc:
                    report.lost += 1
                    report.outcomes[f"lost:{type(exc).__name__}"] += 1
                    continue
                report.latencies.append(time.perf_counter() - started)
                error = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
                report.outcomes[f"{response.status_code} {error or 'ok'}"] += 1
                if response.status_code >= 500:
                    report.server_errors += 1
                if error == "ThrottlingException":
                    report.throttled += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        report.seconds = time.perf_counter() - started
        await asyncio.sleep(0.5)
        report.rss_after = rss_of(pid)
    return report


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    process = subprocess.Popen([sys.executable, "-m", "outcrop", "--log-level", "warning", "serve", "--profile", "test",
                                "--port", str(port)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--pid", type=int, default=None, help="server pid, for RSS (with --url)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--port", type=int, default=0, help="port for the server this starts; default: a free one")
    args = parser.parse_args()
    process = None
    if args.url is None:
        if not args.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                args.port = s.getsockname()[1]
        process = start_server(args.port)
        url, pid = f"http://127.0.0.1:{args.port}", process.pid
    else:
        url, pid = args.url, args.pid
    try:
        report = asyncio.run(run_load(url, pid, args.requests, args.concurrency))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
