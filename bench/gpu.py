"""The gpu profile's path, measured in one run on a CUDA machine with no network: the real architectures
with random weights (speed does not depend on the values), each through `outcrop serve` and through the raw
library in the same process run, printed as ratios:

- SDXL 1.0 1024², 30 steps, CFG 7: diffusers eager (and `torch.compile`d UNet with --compile) vs the server;
- Qwen2.5-VL-7B: time to first token and tokens/s, transformers `generate` vs ConverseStream at concurrency 1,
  and the server's total tokens/s at concurrency 16 (batched);
- SigLIP large/16 image embeddings: raw batch-64 images/s vs the server at concurrency 16.

    python bench/gpu.py                 # on the GPU box (~6-8 min: builds ~25 GB of random weights first)
    python bench/gpu.py --tiny          # the same code on the test profile's tiny models, on a CPU (a minute)
    python bench/gpu.py --out gpu.json  # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

SDXL_ID = "stability.stable-diffusion-xl-v1"
CHAT_ID = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED_ID = "amazon.titan-embed-image-v1"


def image_png(size: int = 448) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def build(folder: Path, tiny: bool) -> dict[str, Path]:
    """Weights folders: tiny builtins, or full-size random ones (built once into `folder`)."""
    if tiny:
        from outcrop.testing.builtin import materialize

        return {name: materialize(builtin, folder) for name, builtin in
                (("sdxl", "tiny-sdxl-images"), ("vlm", "tiny-qwen2.5-vl"), ("embed", "tiny-siglip"))}
    from embeddings import build_siglip_large
    from generation import build_full_sdxl
    from vision import build_random_7b

    paths = {"sdxl": folder / "sdxl", "vlm": folder / "qwen2.5-vl-7b", "embed": folder / "siglip-large"}
    for name, builder in (("sdxl", lambda p: build_full_sdxl(p, "float16")), ("vlm", build_random_7b),
                          ("embed", build_siglip_large)):
        if not (paths[name] / ".complete").exists():
            started = time.perf_counter()
            paths[name].mkdir(parents=True, exist_ok=True)
            builder(paths[name])
            (paths[name] / ".complete").write_text("random\n")
            print(f"built {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return paths


def models_toml(paths: dict[str, Path], device: str, dtype: str, tiny: bool) -> str:
    sdxl_options = "max_render_side = 64, size_multiple = 16, " if tiny else ""
    return (f'[models."{SDXL_ID}"]\nprotocol = "stability-sdxl"\nengine = "diffusion"\nweights = "{paths["sdxl"]}"\n'
            f'dtype = "{dtype}"\ndevice = "{device}"\noptions = {{ {sdxl_options}timeout_s = 600 }}\n\n'
            f'[models."{CHAT_ID}"]\nprotocol = "anthropic-messages"\nengine = "vision-chat"\nweights = "{paths["vlm"]}"\n'
            f'dtype = "{dtype}"\ndevice = "{device}"\noptions = {{ max_batch = 16, max_output_tokens = 4096, '
            f'context_tokens = 32768, timeout_s = 600 }}\n\n'
            f'[models."{EMBED_ID}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\nweights = "{paths["embed"]}"\n'
            f'dtype = "{dtype}"\ndevice = "{device}"\noptions = {{ max_batch = 64, timeout_s = 300 }}\n')


# -- raw libraries ---------------------------------------------------------------------------------
def raw_sdxl(weights: Path, device: str, dtype: Any, size: int, steps: int, compile_unet: bool) -> dict[str, float]:
    import torch
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(weights, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)

    def once() -> float:
        started = time.perf_counter()
        pipe("a harbour at dawn", width=size, height=size, num_inference_steps=steps, guidance_scale=7.0,
             generator=torch.Generator("cpu").manual_seed(1))
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    once()
    figures = {"eager_s": statistics.median(once() for _ in range(2))}
    if compile_unet:
        pipe.unet = torch.compile(pipe.unet, mode="max-autotune-no-cudagraphs")
        started = time.perf_counter()
        once()
        figures["compile_s"] = time.perf_counter() - started
        figures["compiled_s"] = statistics.median(once() for _ in range(2))
    return figures  # the pipeline is freed with this frame


def raw_vlm(weights: Path, device: str, dtype: Any, tokens: int) -> dict[str, float]:
    import threading

    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor, TextIteratorStreamer

    model = AutoModelForImageTextToText.from_pretrained(weights, dtype=dtype).to(device).eval()
    processor = AutoProcessor.from_pretrained(weights)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "describe the image"}]}]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = Image.open(io.BytesIO(image_png())).convert("RGB")
    runs = []
    for _ in range(3):
        streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True)
        started = time.perf_counter()
        inputs = processor(text=[prompt], images=[image], return_tensors="pt").to(device)
        worker = threading.Thread(target=model.generate, kwargs=dict(**inputs, max_new_tokens=tokens, min_new_tokens=tokens,
                                                                     do_sample=False, streamer=streamer))
        worker.start()
        first = None
        for _piece in streamer:
            first = first or time.perf_counter() - started
        worker.join()
        total = time.perf_counter() - started
        runs.append((first or total, (tokens - 1) / max(total - (first or total), 1e-9)))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"ttft_s": statistics.median(r[0] for r in runs),
            "tok_s": statistics.median(r[1] for r in runs)}


def raw_embed(weights: Path, device: str, dtype: Any, batch: int) -> float:
    import torch
    from PIL import Image
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(weights, dtype=dtype).to(device).eval()
    processor = AutoProcessor.from_pretrained(weights)
    images = [Image.open(io.BytesIO(image_png(256))).convert("RGB")] * batch
    with torch.inference_mode():
        for _ in range(2):
            started = time.perf_counter()
            pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(device, dtype)
            model.get_image_features(pixel_values=pixels)
            if device == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
    del model
    return batch / elapsed


# -- through the server ----------------------------------------------------------------------------
def server_sdxl(client: Any, size: int, steps: int) -> float:
    body = json.dumps({"text_prompts": [{"text": "a harbour at dawn"}], "cfg_scale": 7, "steps": steps, "seed": 1,
                       "width": size, "height": size})
    client.invoke_model(modelId=SDXL_ID, body=body)["body"].read()
    times = []
    for _ in range(2):
        started = time.perf_counter()
        client.invoke_model(modelId=SDXL_ID, body=body)["body"].read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def server_stream(client: Any, tokens: int) -> tuple[float, float]:
    messages = [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_png()}}},
                                             {"text": "describe the image"}]}]
    started = time.perf_counter()
    first, out = None, 0
    for event in client.converse_stream(modelId=CHAT_ID, messages=messages, inferenceConfig={"maxTokens": tokens})["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.perf_counter() - started
        if "metadata" in event:
            out = event["metadata"]["usage"]["outputTokens"]
    total = time.perf_counter() - started
    return first or total, (out - 1) / max(total - (first or total), 1e-9)


def server_concurrent_chat(client: Any, tokens: int, concurrency: int) -> float:
    """Total output tokens/s of `concurrency` simultaneous Converse calls."""
    messages = [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_png()}}},
                                             {"text": "describe the image"}]}]

    def one(_i: int) -> int:
        response = client.converse(modelId=CHAT_ID, messages=messages, inferenceConfig={"maxTokens": tokens})
        return int(response["usage"]["outputTokens"])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        produced = sum(pool.map(one, range(concurrency)))
    return produced / (time.perf_counter() - started)


def server_embed(client: Any, requests: int, concurrency: int) -> float:
    body = json.dumps({"inputImage": base64.b64encode(image_png(256)).decode()})

    def one(_i: int) -> None:
        client.invoke_model(modelId=EMBED_ID, body=body)["body"].read()

    one(0)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="the test profile's tiny models (checks the script on a CPU)")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile'd UNet (raw; ~2 min to compile)")
    parser.add_argument("--weights", type=Path, default=Path(tempfile.gettempdir()) / "outcrop-gpu-bench")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import boto3
    import torch
    from botocore.config import Config

    from servers import ServerProcess

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype_name = "bfloat16" if device == "cuda" else "float32"
    dtype = getattr(torch, dtype_name)
    size, steps, tokens = (1024, 10, 16) if args.tiny else (1024, 30, 128)
    render = 64 if args.tiny else size  # the tiny SDXL renders 64 px in the server: the raw side does the same
    started_all = time.perf_counter()
    args.weights.mkdir(parents=True, exist_ok=True)
    paths = build(args.weights, args.tiny)
    figures: dict[str, Any] = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "tiny": args.tiny}
    figures["raw_sdxl"] = raw_sdxl(paths["sdxl"], device, dtype, render, steps, args.compile)
    figures["raw_vlm"] = raw_vlm(paths["vlm"], device, dtype, tokens)
    figures["raw_embed_img_s"] = raw_embed(paths["embed"], device, dtype, 64)
    print(f"raw done in {time.perf_counter() - started_all:.0f} s: {figures}", flush=True)
    models = args.weights / "models.toml"
    models.write_text(models_toml(paths, device, dtype_name, args.tiny))
    server = ServerProcess("--profile", "test", "--models", str(models), "--preload",
                           env={"OUTCROP_CACHE_DIR": str(args.weights)}).start()
    try:
        client = boto3.client("bedrock-runtime", endpoint_url=server.url,
                              config=Config(read_timeout=600, retries={"total_max_attempts": 1}, max_pool_connections=32))
        # SDXL steps map 1:1 without min/max_steps; Bedrock's lowest is 10, which the tiny run uses.
        figures["server_sdxl_s"] = server_sdxl(client, size, steps)
        server_stream(client, 4)  # warm
        figures["server_vlm_ttft_s"], figures["server_vlm_tok_s"] = server_stream(client, tokens)
        figures["server_vlm_c16_total_tok_s"] = server_concurrent_chat(client, tokens, 16)
        figures["server_embed_img_s"] = server_embed(client, 256 if not args.tiny else 64, 16)
    finally:
        server.stop()
    raw = figures
    print(f"SDXL {size}² {steps} steps: raw eager {raw['raw_sdxl']['eager_s']:.2f} s, server {raw['server_sdxl_s']:.2f} s "
          f"(x{raw['server_sdxl_s'] / raw['raw_sdxl']['eager_s']:.2f})"
          + (f", raw compiled {raw['raw_sdxl']['compiled_s']:.2f} s (compile {raw['raw_sdxl']['compile_s']:.0f} s)"
             if "compiled_s" in raw["raw_sdxl"] else ""))
    print(f"VLM: TTFT raw {raw['raw_vlm']['ttft_s'] * 1000:.0f} ms, server {raw['server_vlm_ttft_s'] * 1000:.0f} ms; "
          f"tok/s raw {raw['raw_vlm']['tok_s']:.1f}, server {raw['server_vlm_tok_s']:.1f} "
          f"(x{raw['server_vlm_tok_s'] / raw['raw_vlm']['tok_s']:.2f}); server at concurrency 16: "
          f"{raw['server_vlm_c16_total_tok_s']:.1f} tok/s total")
    print(f"embeddings: raw batch-64 {raw['raw_embed_img_s']:.1f} img/s, server at concurrency 16 "
          f"{raw['server_embed_img_s']:.1f} img/s (x{raw['server_embed_img_s'] / raw['raw_embed_img_s']:.2f})")
    figures["wall_s"] = round(time.perf_counter() - started_all, 1)
    print(f"total {figures['wall_s']:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
