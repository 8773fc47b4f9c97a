"""Time to first token and tokens/s: ConverseStream through `outcrop serve` vs the same weights'
`generate` in-process (TextIteratorStreamer), same run, printed as ratios.

    python bench/vision.py                      # tiny random Qwen2.5-VL of the test profile (CPU)
    python bench/vision.py --random-7b DIR      # random weights, Qwen2.5-VL-7B architecture (GPU box only)
    python bench/vision.py --cpu-threads 1      # the engine's `cpu_threads` option

Both sides run under the OpenMP settings the `outcrop` command applies (outcrop.engines.cpu_threads,
set here before torch loads), so the ratio compares the server with the library under equal terms.
Each side reports the median of `--runs` runs; also Converse (non-stream) wall time for the same tokens.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def image_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (448, 448), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def build_random_7b(folder: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, Qwen2_5_VLConfig

    from outcrop.testing.tiny_vlm import build_tiny_qwen25vl

    build_tiny_qwen25vl(folder)  # processor + tokenizer; the model is replaced below
    config = Qwen2_5_VLConfig()  # the defaults are Qwen2.5-VL-7B's shapes
    tiny = AutoConfig.from_pretrained(folder)
    config.text_config.vocab_size = tiny.text_config.vocab_size
    for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
        setattr(config, key, getattr(tiny, key))
    config.text_config.eos_token_id = tiny.text_config.eos_token_id
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = tiny.text_config.eos_token_id
    model.save_pretrained(folder)


def in_process(weights: Path, tokens: int, device: str) -> tuple[float, float]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, TextIteratorStreamer
    from PIL import Image

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(weights, dtype=dtype).to(device).eval()
    processor = AutoProcessor.from_pretrained(weights)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "describe the image"}]}]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = Image.open(io.BytesIO(image_png())).convert("RGB")
    runs = []
    for _ in range(RUNS):
        streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True)
        started = time.monotonic()
        inputs = processor(text=[prompt], images=[image], return_tensors="pt").to(device)
        thread = threading.Thread(target=model.generate, kwargs=dict(**inputs, max_new_tokens=tokens, min_new_tokens=tokens,
                                                                     do_sample=False, streamer=streamer))
        thread.start()
        first = None
        for _piece in streamer:
            first = first or time.monotonic() - started
        thread.join()
        total = time.monotonic() - started
        runs.append((first or total, tokens / max(total - (first or 0), 1e-9)))
    return _median(runs)


RUNS = 3


def _median(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    """Per-column median (the machine is shared: medians, not bests)."""
    return tuple(statistics.median(column) for column in zip(*runs))


def through_server(url: str, tokens: int) -> tuple[float, ...]:
    import boto3

    client = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y")
    messages = [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_png()}}},
                                             {"text": "describe the image"}]}]
    runs = []
    for _ in range(RUNS):
        started = time.monotonic()
        client.converse(modelId=MODEL, messages=messages, inferenceConfig={"maxTokens": tokens})
        converse_s = time.monotonic() - started
        started = time.monotonic()
        first, out = None, 0
        for event in client.converse_stream(modelId=MODEL, messages=messages, inferenceConfig={"maxTokens": tokens})["stream"]:
            if "contentBlockDelta" in event and first is None:
                first = time.monotonic() - started
            if "metadata" in event:
                out = event["metadata"]["usage"]["outputTokens"]
        total = time.monotonic() - started
        runs.append((first or total, out / max(total - (first or 0), 1e-9), out, converse_s))
    return _median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-threads", type=int, default=0, help="the engine's cpu_threads option (0: torch's default)")
    parser.add_argument("--random-7b", type=Path, default=None, help="build random Qwen2.5-VL-7B weights here and use them")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    global RUNS
    RUNS = args.runs
    from outcrop.engines.cpu_threads import apply_cpu_threads, configure_openmp

    configure_openmp()
    import torch

    apply_cpu_threads(args.cpu_threads if args.cpu_threads else None)

    from outcrop.testing.builtin import materialize

    device = "cuda" if torch.cuda.is_available() else "cpu"
    cache = Path(os.environ.get("OUTCROP_CACHE_DIR", Path(tempfile.gettempdir()) / "outcrop-bench"))
    if args.random_7b:
        if not (args.random_7b / "config.json").exists():
            build_random_7b(args.random_7b)
        weights = args.random_7b
    else:
        weights = materialize("tiny-qwen2.5-vl", cache)
    ttft_raw, tps_raw = in_process(weights, args.tokens, device)
    models = Path(tempfile.mkdtemp()) / "models.toml"
    models.write_text(f'[models."{MODEL}"]\nprotocol = "anthropic-messages"\nengine = "vision-chat"\nweights = "{weights}"\n'
                      f'device = "{device}"\noptions = {{ max_output_tokens = 4096, context_tokens = 32768, cpu_threads = {args.cpu_threads} }}\n')
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "OUTCROP_CACHE_DIR": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    server = subprocess.Popen([sys.executable, "-m", "outcrop", "--log-level", "warning", "serve", "--profile", "test", "--models", str(models),
                               "--port", str(port)], env=env)
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        through_server(f"http://127.0.0.1:{port}", 2)  # load the engine
        ttft_srv, tps_srv, out, converse_s = through_server(f"http://127.0.0.1:{port}", args.tokens)
    finally:
        server.terminate()
        server.wait()
    print(f"weights {weights} on {device}, {args.tokens} new tokens, median of {RUNS}, torch threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"in-process generate: TTFT {ttft_raw * 1000:.1f} ms, {tps_raw:.1f} tok/s")
    print(f"server ConverseStream: TTFT {ttft_srv * 1000:.1f} ms, {tps_srv:.1f} tok/s ({out:.0f} tokens)")
    print(f"server Converse (non-stream): {converse_s * 1000:.1f} ms for {args.tokens} tokens")
    print(f"ratio server/raw: TTFT x{ttft_srv / ttft_raw:.2f}, tok/s x{tps_srv / tps_raw:.2f}")


if __name__ == "__main__":
    main()
