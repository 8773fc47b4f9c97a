"""Vector-store benchmark: insert rate, query latency p50/p99 and recall@10 against exact numpy search
in the same run, per backend, on clustered 1024-d unit vectors. `--sizes 100000,1000000`.

    PYTHONPATH=src python bench/search.py --sizes 20000,100000 --backends local,milvus-lite
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from outcrop.search.collections import open_collection
from outcrop.search.store import ImageRecord, normalize


def clustered(n: int, dim: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    return normalize(centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim) * 8)


def run(backend: str, n: int, dim: int, queries: int, batch: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(100, n // 500), dim)).astype(np.float32) / np.sqrt(dim) * 8
    data = clustered(n, dim, rng, centres)
    qs = clustered(queries, dim, rng, centres)
    with tempfile.TemporaryDirectory() as tmp:
        uri = str(Path(tmp) / "m.db") if backend == "milvus-lite" else None
        store = open_collection("bench", data_dir=Path(tmp), uri=uri, model_key="bench", dimension=dim)
        t = time.perf_counter()
        for s in range(0, n, batch):
            store.upsert([ImageRecord(path=f"/b/{i}", content_hash=str(i), size=i, mtime=0.0, vector=data[i]) for i in range(s, min(n, s + batch))])
        store.flush()
        insert = n / (time.perf_counter() - t)
        t = time.perf_counter()
        truth = [set(np.argsort(-(data @ q))[:10].tolist()) for q in qs]
        exact_ms = (time.perf_counter() - t) / queries * 1000
        lat, recall = [], []
        store.similar(qs[0], 10)
        for q, gt in zip(qs, truth):
            t = time.perf_counter()
            hits = store.similar(q, 10)
            lat.append((time.perf_counter() - t) * 1000)
            recall.append(len({int(h.path[3:]) for h in hits} & gt) / 10)
        store.close()
    print(f"{backend:12s} n={n:>8,} insert {insert:>8,.0f}/s  query p50 {np.percentile(lat, 50):6.2f} ms  p99 "
          f"{np.percentile(lat, 99):6.2f} ms  recall@10 {np.mean(recall):.3f}  (exact numpy {exact_ms:.1f} ms/query)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="local,milvus-lite")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        for n in map(int, args.sizes.split(",")):
            run(backend, n, args.dim, args.queries, args.batch)


if __name__ == "__main__":
    main()
