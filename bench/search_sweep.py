"""faiss alone (no store): which compressed IVF index + exact re-rank meets the issue-5 goal at 1M.

For each nlist: train one coarse quantizer (spherical k-means, --train-per-list points per list), assign
every vector once, then fill each candidate code (IVF-PQ 4-bit fast-scan, IVF-SQ8, IVF-RaBitQ
fast-scan, IVF-Flat) and sweep nprobe x k_factor: one query on one thread asks the index for
k*k_factor candidates and re-ranks them exactly against the stored vectors (float16 or float32 copy),
as the store does. Prints p50/p99 (search + re-rank), recall@10 vs exact, and the add rate
(coarse assignment + encoding, per wall second on all threads).

    PYTHONPATH=src python bench/search_sweep.py --n 1000000 --nlist 1024,4096 --kinds pq4fs,sq8
    PYTHONPATH=src python bench/search_sweep.py --n 1000000 --nlist 1000 --kinds pq4fs,pq4fs2 --rotate   # the store's ivfpq

--rotate turns data and queries by one random orthogonal rotation first (as the store's ivfpq does):
inner products, hence the exact neighbours, are unchanged; what changes is how PQ's error falls.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_data import PowerLaw, exact_topk, lift, minilm

IP = faiss.METRIC_INNER_PRODUCT


def make(kind: str, quantizer: faiss.Index, d: int, nlist: int) -> faiss.Index:
    if kind == "pq4fs":
        return faiss.IndexIVFPQFastScan(quantizer, d, nlist, d // 4, 4, IP)
    if kind == "pq4fs8":  # 8 dims per sub-quantizer: half the code, coarser
        return faiss.IndexIVFPQFastScan(quantizer, d, nlist, d // 8, 4, IP)
    if kind == "pq4fs2":  # 2 dims per sub-quantizer: twice the code, finer
        return faiss.IndexIVFPQFastScan(quantizer, d, nlist, d // 2, 4, IP)
    if kind == "sq8":
        return faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, IP)
    if kind.startswith("rabitqfs"):  # rabitqfs = 1 bit/dim; rabitqfsN = N bits/dim (1-bit fast-scan pass, then the extra bits)
        return faiss.IndexIVFRaBitQFastScan(quantizer, d, nlist, IP, 32, True, int(kind[8:] or 1))
    if kind == "rabitq":
        return faiss.IndexIVFRaBitQ(quantizer, d, nlist, IP)
    if kind == "flat":
        return faiss.IndexIVFFlat(quantizer, d, nlist, IP)
    raise ValueError(kind)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--data", default="powerlaw")
    p.add_argument("--nlist", default="1024")
    p.add_argument("--kinds", default="pq4fs")
    p.add_argument("--nprobe", default="16,32,64,128")
    p.add_argument("--kfactor", default="4,10,20")
    p.add_argument("--train-per-list", type=int, default=16)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--rerank", choices=("f16", "f32"), default="f16")
    p.add_argument("--rotate", action="store_true", help="random orthogonal rotation before the index (the store's ivfpq)")
    a = p.parse_args()
    t = time.perf_counter()
    if a.data == "powerlaw":
        src = PowerLaw(a.n, 1024)
        x = np.empty((a.n, 1024), dtype=np.float32)
        for start, chunk in src.chunks():
            x[start:start + len(chunk)] = chunk
        qs = src.queries(a.queries)
    else:
        src = lift(minilm(a.n, a.queries, Path(".cache/bench")), 1024)
        x, qs = src.data, src.queries(a.queries)
    gt = exact_topk(src, qs, 10)
    store = x.astype(np.float16) if a.rerank == "f16" else x
    raw_qs = qs
    if a.rotate:  # the index sees rotated vectors; re-ranking uses the originals (same inner products)
        rotation = faiss.RandomRotationMatrix(x.shape[1], x.shape[1])
        rotation.init(1234)
        x, qs = rotation.apply(x), rotation.apply(qs)
    n, d = x.shape
    ids = np.arange(n, dtype=np.int64)
    print(f"data {a.data} n={n:,} ready in {time.perf_counter() - t:.0f} s; rerank from {a.rerank}", flush=True)
    rng = np.random.default_rng(0)
    for nlist in map(int, a.nlist.split(",")):
        t = time.perf_counter()
        sample = x[np.sort(rng.choice(n, min(n, a.train_per_list * nlist), replace=False))]
        km = faiss.Kmeans(d, nlist, niter=10, spherical=True, max_points_per_centroid=a.train_per_list, min_points_per_centroid=1, seed=1)
        km.train(sample)
        quantizer = faiss.IndexFlatIP(d)
        quantizer.add(km.centroids)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        _, assign = quantizer.search(x, 1)
        assign = np.ascontiguousarray(assign.reshape(-1))
        assign_s = time.perf_counter() - t
        sizes = np.bincount(assign, minlength=nlist)
        print(f"nlist {nlist}: k-means {train_s:.0f} s on {len(sample):,}, assign {assign_s:.0f} s ({n / assign_s:,.0f}/s), "
              f"list imbalance {(sizes.astype(float) ** 2).sum() * nlist / n**2:.2f}", flush=True)
        for kind in a.kinds.split(","):
            index = make(kind, quantizer, d, nlist)
            t = time.perf_counter()
            faiss.omp_set_num_threads(1)  # small k-means jobs: OpenMP only spins (see ann.py)
            if hasattr(index, "pq"):
                index.pq.cp.niter, index.pq.cp.max_points_per_centroid = 10, 64
            index.train(sample[:65536])
            faiss.omp_set_num_threads(2)
            tr = time.perf_counter() - t
            t = time.perf_counter()
            for s in range(0, n, 100_000):
                e = min(n, s + 100_000)
                if "fs" in kind:  # fast-scan packs codes in blocks on its own add path (assigns again)
                    index.add_with_ids(x[s:e], ids[s:e])
                else:
                    index.add_core(e - s, faiss.swig_ptr(x[s:e]), faiss.swig_ptr(ids[s:e]), faiss.swig_ptr(assign[s:e]))
            add_s = time.perf_counter() - t - (assign_s if "fs" in kind else 0)
            print(f"  {kind}: train {tr:.1f} s, encode {add_s:.0f} s; add incl. assignment {n / (add_s + assign_s):,.0f}/s; "
                  f"code {index.code_size} B", flush=True)
            faiss.omp_set_num_threads(1)
            for nprobe in map(int, a.nprobe.split(",")):
                index.nprobe = nprobe
                for kf in map(int, a.kfactor.split(",")) if kind != "flat" else [1]:
                    lat, rec = [], []
                    for q, raw_q, g in zip(qs, raw_qs, gt):
                        t0 = time.perf_counter()
                        _, cand = index.search(q[None], 10 * kf)
                        cand = cand[0][cand[0] >= 0]
                        if kind != "flat":
                            sc = store[cand].astype(np.float32) @ raw_q
                            top = cand[np.argsort(-sc)[:10]]
                        else:
                            top = cand[:10]
                        lat.append((time.perf_counter() - t0) * 1000)
                        rec.append(len(set(top.tolist()) & set(g.tolist())) / 10)
                    print(f"    nprobe {nprobe:4d} kf {kf:3d}: p50 {np.percentile(lat, 50):6.2f} ms p99 {np.percentile(lat, 99):6.2f} ms "
                          f"recall@10 {np.mean(rec):.3f}", flush=True)
            faiss.omp_set_num_threads(2)
            del index


if __name__ == "__main__":
    main()
