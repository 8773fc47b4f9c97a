"""Every request of the seed document, end to end, on the `cpu` profile's real architectures with random
weights (bench/random_hub.py), through boto3's default client (60 s read timeout, retries on), as a laptop
user runs it. Speed does not depend on the weight values; the answers carry no meaning.

    python bench/cpu_seed.py                          # build the random hub once (~10 min), serve --profile cpu, measure
    python bench/cpu_seed.py --set vision.quantize=int4 --set vision.max_pixels=200704   # engine options, as a --models file would
    python bench/cpu_seed.py --concurrency 4          # also: 4 concurrent describes vs 4 sequential
    python bench/cpu_seed.py --quick                  # the same requests on the test profile (seconds; checks the script)

The chat calls get `maxTokens: 200` (a real model's answer length; random weights rarely stop by themselves).
Streamed twins of the seed's image question split the time into prefill (time to the first token) and
decode (tokens/s). Every figure is printed with the machine's load average, since other work skews it.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

CHAT = "anthropic.claude-3-sonnet-20240229-v1:0"
SDXL = "stability.stable-diffusion-xl-v1"
TITAN = "amazon.titan-image-generator-v1"
EMBED = "amazon.titan-embed-image-v1"
ANSWER_TOKENS = 200


def png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def seed_images() -> dict[str, bytes]:
    """A 1024² interior photo stand-in, a rendered Japanese document, two product shots, a mask."""
    import numpy as np
    from PIL import Image, ImageDraw

    from outcrop.testing.documents import render_lines

    rng = np.random.default_rng(0)
    room = Image.fromarray(rng.integers(0, 255, (1024, 1024, 3), dtype=np.uint8)).resize((1024, 1024))
    draw = ImageDraw.Draw(room)
    draw.rectangle((200, 500, 800, 900), fill=(180, 140, 90))
    document = render_lines(["請求書 No. 2024-0193", "株式会社サンプル 御中", "品目: ノートPC 2台 ¥256,000",
                             "合計: ¥281,600 (税込)", "支払期限: 2024年12月27日"], width=1000)
    products = [Image.new("RGB", (768, 768), color) for color in ((220, 30, 30), (30, 30, 220))]
    mask = Image.new("RGB", (512, 512), "black")
    ImageDraw.Draw(mask).rectangle((128, 128, 384, 384), fill="white")
    return {"room": png(room), "document": png(document), "product1": png(products[0]), "product2": png(products[1]),
            "input": png(room.resize((512, 512))), "mask": png(mask)}


def converse_body(images: list[bytes], question: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"image": {"format": "png", "source": {"bytes": b}}} for b in images]
    return {"modelId": CHAT, "messages": [{"role": "user", "content": content + [{"text": question}]}],
            "inferenceConfig": {"maxTokens": ANSWER_TOKENS}}


def seed_requests(images: dict[str, bytes]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, model, call kwargs) of each seed snippet's request; image bodies verbatim."""
    b64 = {k: base64.b64encode(v).decode() for k, v in images.items()}
    sdxl = {"text_prompts": [{"text": "夕日に照らされた穏やかな山の風景、デジタルアート", "weight": 1.0}],
            "cfg_scale": 7, "steps": 50, "seed": 42, "width": 1024, "height": 1024}
    titan_text = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "モダンなリビングルーム、ミニマリストデザイン",
                  "negativeText": "ぼやけた、低品質"}, "imageGenerationConfig": {"numberOfImages": 1, "height": 1024,
                  "width": 1024, "cfgScale": 8.0, "seed": 0}}
    variation = {"taskType": "IMAGE_VARIATION", "imageVariationParams": {"text": "同じスタイルで異なる色調",
                 "images": [b64["input"]], "similarityStrength": 0.7}, "imageGenerationConfig": {"numberOfImages": 3}}
    inpaint = {"taskType": "INPAINTING", "inPaintingParams": {"text": "赤いスポーツカー", "image": b64["input"],
               "maskImage": b64["mask"]}}
    inpaint_prompt = {"taskType": "INPAINTING", "inPaintingParams": {"text": "赤いスポーツカー", "image": b64["input"],
                      "maskPrompt": "車両"}}
    return [
        ("sdxl text-to-image 1024² 50 steps", SDXL, {"body": json.dumps(sdxl)}),
        ("titan text-to-image 1024²", TITAN, {"body": json.dumps(titan_text)}),
        ("titan variation ×3", TITAN, {"body": json.dumps(variation)}),
        ("titan inpainting (maskImage)", TITAN, {"body": json.dumps(inpaint)}),
        ("titan inpainting (maskPrompt 車両)", TITAN, {"body": json.dumps(inpaint_prompt)}),
        ("converse describe (analyze_image)", CHAT, converse_body([images["room"]], "このインテリアデザインのスタイルは？")),
        ("converse document → JSON", CHAT, converse_body([images["document"]],
                                                           "このドキュメントからすべてのテキストを抽出してJSON形式にしてください。")),
        ("converse compare 2 images", CHAT, converse_body([images["product1"], images["product2"]],
                                                          "これら2つの製品画像を比較して、違いを列挙してください。")),
        ("titan embed image", EMBED, {"body": json.dumps({"inputImage": b64["room"]})}),
        ("titan embed text", EMBED, {"body": json.dumps({"inputText": "赤い車"})}),
    ]


def load() -> str:
    return "load {:.1f}/{:.1f}".format(*os.getloadavg()[:2])


def call(client: Any, model: str, kwargs: dict[str, Any]) -> str:
    if model == CHAT:
        response = client.converse(**kwargs)
        return f"{response['usage']['inputTokens']} in, {response['usage']['outputTokens']} out"
    body = json.loads(client.invoke_model(modelId=model, **kwargs)["body"].read())
    return f"{len(body.get('images') or body.get('artifacts') or [])} images" if model != EMBED else f"{len(body['embedding'])}-d"


def timed(fn: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        note = fn()
    except Exception as exc:  # a failed seed request is a result to report
        note = f"FAILED {type(exc).__name__}: {str(exc)[:120]}"
    return time.perf_counter() - started, note


def stream_split(client: Any, kwargs: dict[str, Any]) -> tuple[float, float, int]:
    """(seconds to the first token, decode tokens/s, output tokens) of the same request streamed."""
    started = time.perf_counter()
    first, tokens = None, 0
    for event in client.converse_stream(**kwargs)["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.perf_counter() - started
        if "metadata" in event:
            tokens = event["metadata"]["usage"]["outputTokens"]
    total = time.perf_counter() - started
    first = total if first is None else first
    return first, (tokens - 1) / max(total - first, 1e-9), tokens


def models_override(profile: str, settings: list[str], folder: Path) -> Path | None:
    """A --models file that re-declares the named engines of `profile` with options changed."""
    if not settings:
        return None
    engines: dict[str, Any] = {}
    for path in sorted((ROOT / "src/outcrop/registry/profiles" / profile).glob("*.toml")):
        engines.update(tomllib.loads(path.read_text()).get("engines", {}))
    for setting in settings:
        key, _, raw = setting.partition("=")
        engine, _, option = key.partition(".")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if option in ("dtype", "device", "weights"):
            engines[engine][option] = value
        else:
            engines[engine].setdefault("options", {})[option] = value
    lines = []
    for name in {s.partition(".")[0] for s in settings}:
        spec = engines[name]
        lines.append(f'[engines."{name}"]')
        lines += [f"{k} = {json.dumps(v)}" for k, v in spec.items() if k != "options"]
        lines.append(f'[engines."{name}".options]')
        lines += [f"{k} = {json.dumps(v)}" for k, v in spec.get("options", {}).items()]
    path = folder / "models.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the test profile's tiny models")
    parser.add_argument("--hub", type=Path, default=ROOT / ".cache" / "random-hub")
    parser.add_argument("--set", action="append", default=[], metavar="ENGINE.OPTION=VALUE")
    parser.add_argument("--concurrency", type=int, default=0)
    parser.add_argument("--only", default="", help="run only requests whose name contains this")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    import tempfile

    import boto3

    from servers import ServerProcess

    profile = "test" if args.quick else "cpu"
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if not args.quick:
        from random_hub import SEED_REPOS, build

        build(args.hub, SEED_REPOS)
        env["HF_HUB_CACHE"] = str(args.hub)
    with tempfile.TemporaryDirectory() as tmp:
        override = models_override(profile, args.set, Path(tmp))
        server_args = ["--profile", profile] + (["--models", str(override)] if override else [])
        log = Path(tmp) / "server.log"
        server = ServerProcess(*server_args, env=env, log=log).start()
        figures: dict[str, Any] = {"profile": profile, "set": args.set, "cpus": os.cpu_count(), "requests": {}}
        try:
            client = boto3.client("bedrock-runtime", endpoint_url=server.url)  # the default client, as the seed's
            requests = [r for r in seed_requests(seed_images()) if args.only in r[0]]
            warmed: set[str] = set()
            print(f"profile {profile} {' '.join(args.set)}; {os.cpu_count()} CPUs; {load()}", flush=True)
            for name, model, kwargs in requests:
                if model not in warmed:  # the first call of a model loads its weights: timed apart
                    seconds, note = timed(lambda model=model, kwargs=kwargs: call(client, model, kwargs))
                    print(f"  (first call of {model}, loads weights: {seconds:.1f} s, {note})", flush=True)
                    warmed.add(model)
                seconds, note = timed(lambda model=model, kwargs=kwargs: call(client, model, kwargs))
                figures["requests"][name] = {"seconds": round(seconds, 2), "note": note, "load": os.getloadavg()[0]}
                print(f"{name:40s} {seconds:7.1f} s   {note}   [{load()}]", flush=True)
            describe = seed_requests(seed_images())[5][2]
            if any(model == CHAT for _, model, _ in requests):
                first, rate, tokens = stream_split(client, describe)
                figures["describe_stream"] = {"prefill_s": round(first, 2), "decode_tok_s": round(rate, 2), "tokens": tokens}
                print(f"{'describe, streamed: prefill / decode':40s} {first:7.1f} s   {rate:.2f} tok/s over {tokens} tokens   [{load()}]")
            if args.concurrency:
                n = args.concurrency
                started = time.perf_counter()
                for _ in range(n):
                    client.converse(**describe)
                sequential = time.perf_counter() - started
                started = time.perf_counter()
                with ThreadPoolExecutor(n) as pool:
                    list(pool.map(lambda _i: client.converse(**describe), range(n)))
                concurrent = time.perf_counter() - started
                figures["concurrency"] = {"n": n, "sequential_s": round(sequential, 1), "concurrent_s": round(concurrent, 1)}
                print(f"{n} describes: sequential {sequential:.1f} s, concurrent {concurrent:.1f} s "
                      f"({sequential / concurrent:.2f}x)   [{load()}]")
        finally:
            server.stop()
            if any("FAILED" in str(v) for v in figures["requests"].values()):
                print("server log tail:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(json.dumps({k: v["seconds"] for k, v in figures["requests"].items()}, ensure_ascii=False))
    if figures["requests"]:
        print(f"median {statistics.median(v['seconds'] for v in figures['requests'].values()):.1f} s")


if __name__ == "__main__":
    main()
