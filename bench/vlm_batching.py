"""Concurrent describes vs the same describes one after another, through `outcrop serve` and boto3
Converse: how much dynamic batching on the vision-chat engine saves, and that greedy answers match.

    python bench/vlm_batching.py                         # tiny random Qwen2.5-VL of the test profile
    python bench/vlm_batching.py --random-3b DIR         # random weights, the cpu profile's Qwen2.5-VL-3B shapes
    python bench/vlm_batching.py --weights DIR           # any Qwen2.5-VL folder on disk
    python bench/vlm_batching.py --concurrency 4 --tokens 64 --image 448 --max-batch 4

The same server answers both rounds (`max_batch` from the flag); each round sends `--concurrency`
describes of differently coloured `--image`² PNGs with `maxTokens` `--tokens`. Prints wall times, the
speed-up, the batch sizes the scheduler ran (from /metrics-style counters in the log line) and the
machine's load (`os.getloadavg`) before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = "amazon.nova-lite-v1:0"
def png(color: tuple[int, int, int], side: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (side, side), (240, 240, 240))
    ImageDraw.Draw(image).ellipse((side // 5, side // 5, 4 * side // 5, 4 * side // 5), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def describe(client: Any, image: bytes, tokens: int) -> tuple[str, int, float]:
    started = time.monotonic()
    response = client.converse(modelId=MODEL, inferenceConfig={"maxTokens": tokens}, messages=[{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": image}}}, {"text": "この画像に写っているものを説明してください。"}]}])
    return response["output"]["message"]["content"][0]["text"], response["usage"]["outputTokens"], time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--image", type=int, default=448, help="side of each square test image, pixels")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--random-3b", type=Path, default=None, help="build random Qwen2.5-VL-3B weights here and use them")
    parser.add_argument("--weights", type=Path, default=None, help="a Qwen2.5-VL folder already on disk")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import boto3
    import httpx
    from botocore.config import Config

    cache = Path(os.environ.get("OUTCROP_CACHE_DIR", Path(tempfile.gettempdir()) / "outcrop-bench"))
    if args.weights:
        weights = args.weights
    elif args.random_3b:
        if not (args.random_3b / "config.json").exists():
            started = time.monotonic()
            from random_hub import build_qwen25_vl_3b  # the cpu profile's architecture, random weights

            build_qwen25_vl_3b(args.random_3b)
            print(f"built random Qwen2.5-VL-3B in {time.monotonic() - started:.0f} s")
        weights = args.random_3b
    else:
        from outcrop.testing.builtin import materialize

        weights = materialize("tiny-qwen2.5-vl", cache)
    models = Path(tempfile.mkdtemp()) / "models.toml"
    models.write_text(f'[models."{MODEL}"]\nprotocol = "converse"\nengine = "vision-chat"\nweights = "{weights}"\n'
                      f'dtype = "{args.dtype}"\ndevice = "cpu"\noptions = {{ max_output_tokens = 4096, context_tokens = 32768, '
                      f'max_batch = {args.max_batch}, timeout_s = 3000 }}\n')
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "OUTCROP_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen([sys.executable, "-m", "outcrop", "--log-level", "warning", "serve", "--profile", "test",
                               "--models", str(models), "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    config = Config(read_timeout=3000, retries={"total_max_attempts": 1, "mode": "standard"})
    clients = [boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                            aws_secret_access_key="y", config=config) for _ in range(args.concurrency)]
    images = [png(((60 * i) % 256, 200 - 30 * i % 200, 40 + 50 * i % 216), args.image) for i in range(args.concurrency)]
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        for _ in range(1200):  # load the engine (ModelNotReadyException while its weights load)
            try:
                describe(clients[0], images[0], 2)
                break
            except clients[0].exceptions.ModelNotReadyException:
                time.sleep(1)
        load_before = os.getloadavg()
        sequential, concurrent = [], []
        for _ in range(args.rounds):  # alternate, so both see the same load drift
            started = time.monotonic()
            one_by_one = [describe(clients[0], image, args.tokens) for image in images]
            sequential.append(time.monotonic() - started)
            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                together = list(pool.map(lambda pair: describe(pair[0], pair[1], args.tokens), zip(clients, images)))
            concurrent.append(time.monotonic() - started)
        sequential_s, concurrent_s = statistics.median(sequential), statistics.median(concurrent)
        load_after = os.getloadavg()
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        server.terminate()
        server.wait()
    batches = [line for line in metrics.splitlines() if line.startswith(("outcrop_batch_size_count", "outcrop_batch_size_sum"))]
    print(f"weights {weights} ({args.dtype}, cpu, {os.cpu_count()} cores), {args.concurrency} describes of a "
          f"{args.image}x{args.image} PNG, maxTokens {args.tokens}, max_batch {args.max_batch}")
    print(f"median of {args.rounds} rounds; rounds: sequential {[round(t, 2) for t in sequential]} s, "
          f"concurrent {[round(t, 2) for t in concurrent]} s")
    print(f"sequential: {sequential_s:.2f} s (last round {[round(r[2], 2) for r in one_by_one]} s each, "
          f"{sum(r[1] for r in one_by_one)} output tokens)")
    print(f"concurrent: {concurrent_s:.2f} s (last round {[round(r[2], 2) for r in together]} s each, "
          f"{sum(r[1] for r in together)} output tokens)")
    print(f"speed-up x{sequential_s / concurrent_s:.2f}; greedy answers identical: "
          f"{[r[:2] for r in one_by_one] == [r[:2] for r in together]}")
    print("scheduler (batches run, items run; the warm-up included): " + "; ".join(batches))
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")


if __name__ == "__main__":
    main()
