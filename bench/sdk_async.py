"""Throughput of `AsyncMultimodalAssistant` at concurrency 16 against the sync class, in one run.

    PYTHONPATH=tests python bench/sdk_async.py                   # both targets below
    PYTHONPATH=tests python bench/sdk_async.py --requests 256 --latency-ms 200

Two targets: (1) `outcrop serve --profile test` (embed_text on the tiny SigLIP: the server's CPU is
the limit, so this shows what concurrency buys against a local outcrop); (2) a loopback endpoint
that answers InvokeModel after a fixed delay, standing in for a remote Bedrock region where the
client mostly waits (this isolates what the client itself can keep in flight). Each target runs:
the sync class sequentially, the sync class shared by 16 threads, and the async class with 16
concurrent tasks. Prints req/s, p50 latency and the ratios; `/proc/loadavg` before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from botocore.config import Config

from outcrop import AsyncMultimodalAssistant, MultimodalAssistant

CONCURRENCY = 16
# Any credentials sign; neither target checks them.
for key, value in (("AWS_ACCESS_KEY_ID", "AKIDBENCH"), ("AWS_SECRET_ACCESS_KEY", "bench-secret")):
    os.environ.setdefault(key, value)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


class FixedLatency:
    """InvokeModel answered with a small Titan embedding after `delay_s`, keep-alive like Bedrock."""

    def __init__(self, delay_s: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(delay_s)
                body = json.dumps({"embedding": [0.6, 0.8], "inputTextTokenCount": 3}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def timed(call: Callable[[], Any], latencies: list[float]) -> None:
    started = time.perf_counter()
    call()
    latencies.append(time.perf_counter() - started)


def run_sync(url: str, n: int, threads: int) -> tuple[float, float]:
    assistant = MultimodalAssistant(endpoint_url=url, region="us-east-1", max_attempts=10,
                                    config=Config(max_pool_connections=max(10, threads)))
    assistant.embed_text("warm-up")
    latencies: list[float] = []
    started = time.perf_counter()
    if threads == 1:
        for i in range(n):
            timed(lambda i=i: assistant.embed_text(f"photo {i}"), latencies)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: timed(lambda: assistant.embed_text(f"photo {i}"), latencies), range(n)))
    return n / (time.perf_counter() - started), statistics.median(latencies)


def run_async(url: str, n: int, concurrency: int) -> tuple[float, float]:
    async def main() -> tuple[float, float]:
        latencies: list[float] = []

        async def one(i: int) -> None:
            started = time.perf_counter()
            await assistant.embed_text(f"photo {i}")
            latencies.append(time.perf_counter() - started)

        async with AsyncMultimodalAssistant(endpoint_url=url, region="us-east-1", max_attempts=10,
                                            max_concurrency=concurrency) as assistant:
            await assistant.embed_text("warm-up")
            limit = asyncio.Semaphore(concurrency)  # tasks in flight = concurrency, as the threads above

            async def bounded(i: int) -> None:
                async with limit:
                    await one(i)

            started = time.perf_counter()
            await asyncio.gather(*(bounded(i) for i in range(n)))
            return n / (time.perf_counter() - started), statistics.median(latencies)

    return asyncio.run(main())


def compare(name: str, url: str, n: int) -> None:
    print(f"== {name}: {n} embed_text calls per mode   (loadavg {loadavg()})")
    seq, seq_p50 = run_sync(url, n, 1)
    thr, thr_p50 = run_sync(url, n, CONCURRENCY)
    asy, asy_p50 = run_async(url, n, CONCURRENCY)
    print(f"sync, sequential:            {seq:8.1f} req/s  p50 {seq_p50 * 1000:7.1f} ms")
    print(f"sync, {CONCURRENCY} threads:             {thr:8.1f} req/s  p50 {thr_p50 * 1000:7.1f} ms")
    print(f"async, concurrency {CONCURRENCY}:        {asy:8.1f} req/s  p50 {asy_p50 * 1000:7.1f} ms   "
          f"async/sequential {asy / seq:5.2f}x  async/threads {asy / thr:5.2f}x   (loadavg {loadavg()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fixed-latency endpoint's delay")
    parser.add_argument("--skip-server", action="store_true", help="only the fixed-latency endpoint")
    args = parser.parse_args()

    fixed = FixedLatency(args.latency_ms / 1000)
    try:
        compare(f"fixed-latency endpoint ({args.latency_ms:.0f} ms a call)", fixed.url, args.requests)
    finally:
        fixed.close()
    if not args.skip_server:
        from servers import ServerProcess

        proc = ServerProcess("--profile", "test")
        proc.start()
        try:
            compare("outcrop serve --profile test (tiny SigLIP, this machine's CPU)", proc.url, args.requests)
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
