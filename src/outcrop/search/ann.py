"""Approximate nearest-neighbour index (faiss) over unit vectors, inner product = cosine.

Chosen by measurement (notes/search.md "Third pass", bench/search_sweep.py, bench/search.py): the
default `ivfpq` is IVF with 4-bit PQ fast-scan codes (one 4-bit code per 2 dimensions: 256 bytes for
a 1024-d vector, 1/16 of float32) and an exact (flat) coarse quantizer. Scanning full-precision lists
(`ivf`, IVF-Flat, the second pass's default) is memory-bound at 1M x 1024-d: recall 0.89 at nprobe 64
already cost 29 ms p99. Fast-scan codes are scanned from registers, so many more lists can be probed;
the store asks for k * k_factor candidates and re-ranks them exactly (`compressed`, see
search/vectors.py). Adding a batch is one BLAS product against the centroids plus PQ encoding.
Training is bounded (TRAIN_PER_LIST points per list, TRAIN_ITERS k-means iterations) because it is
paid again each time the collection outgrows its lists (`needs_retrain`). `ivf` and HNSW-Flat stay
selectable. Files are written to a temporary name and `os.replace`d, so a crash never leaves a torn index.
"""

from __future__ import annotations

import os
from pathlib import Path

from collections.abc import Callable

import numpy as np

KINDS = ("ivfpq", "ivf", "hnsw")
DEFAULT_KIND = "ivfpq"
COMPRESSED_KINDS = ("ivfpq",)  # approximate scores: the store re-ranks on exact vectors
PQ_DIMS_PER_CODE = 2  # a 4-bit code (fast-scan needs 4-bit) per 2 dims: 256 B at 1024-d; per 4 dims lost 0.06 recall at 1M
TRAIN_PER_LIST = 16  # IVF-Flat k-means sample per list (4*sqrt(N) lists: more would cost minutes per retrain)
TRAIN_PER_LIST_PQ = 64  # ivfpq (~4x fewer lists): at 1M list imbalance 2.79 -> 1.83 vs 16, same recall, shorter scans
TRAIN_ITERS = 10
LISTS_PER_SQRT_N = 1.25  # ivfpq: 1,000 lists when trained at 640k (measured at 1M with 1,024: notes "Third pass")
PQ_TRAIN_ITERS = 10
PQ_TRAIN_PER_CODE = 64  # residuals per codeword for each 4-d sub-quantizer's k-means (1,024 points)
GROWTH = 8  # retrain IVF once it holds GROWTH x the vectors it was trained on (amortised O(1) per insert)
DEFAULT_NPROBE = 128  # ivfpq at 1M powerlaw: ~13 % of ~1,000 lists; IVF-Flat's own ceiling there is 0.968 (notes "Third pass")
DEFAULT_K_FACTOR = 40  # ivfpq: candidates re-ranked exactly = k * k_factor (20: -0.04 recall at 1M, 100: 2x the time)
DEFAULT_EF_SEARCH = 96


def ivf_nlist(n: int, kind: str = "ivf") -> int:
    """Lists for n vectors. IVF-Flat: 4*sqrt(N) (short lists: its scan is memory-bound). IVF-PQ:
    LISTS_PER_SQRT_N*sqrt(N): fast-scan makes long lists cheap, and fewer centroids make every add
    (one product against all centroids) and every retrain cheaper."""
    per = LISTS_PER_SQRT_N if kind in COMPRESSED_KINDS else 4
    return int(min(65536, max(64, per * np.sqrt(max(1, n)))))


def train_per_list(kind: str) -> int:
    return TRAIN_PER_LIST_PQ if kind in COMPRESSED_KINDS else TRAIN_PER_LIST


def pq_codes(dim: int) -> int:
    """Sub-quantizers for `dim`: one per PQ_DIMS_PER_CODE dims (fewer dims per code when it does not divide)."""
    for per in (PQ_DIMS_PER_CODE, 1):
        if dim % per == 0:
            return dim // per
    return dim


def _faiss():  # type: ignore[no-untyped-def]
    import faiss

    return faiss


class AnnIndex:
    """A faiss index with int64 ids (our SQLite row ids)."""

    def __init__(self, index: object, kind: str, nprobe: int = DEFAULT_NPROBE, ef_search: int = DEFAULT_EF_SEARCH,
                 trained_on: int = 0, k_factor: int = DEFAULT_K_FACTOR) -> None:
        self.index = index
        self.kind = kind
        self.trained_on = trained_on
        self.set_params(nprobe=nprobe, ef_search=ef_search, k_factor=k_factor)

    @property
    def compressed(self) -> bool:
        """Scores are approximate: the caller re-ranks k * k_factor candidates on exact vectors."""
        return self.kind in COMPRESSED_KINDS

    def set_params(self, nprobe: int = DEFAULT_NPROBE, ef_search: int = DEFAULT_EF_SEARCH, k_factor: int = DEFAULT_K_FACTOR) -> None:
        faiss = _faiss()
        self.k_factor = k_factor
        if self.kind in ("ivf", "ivfpq"):
            ivf = faiss.extract_index_ivf(self.index)
            ivf.nprobe = nprobe
        else:
            faiss.downcast_index(self.index.index).hnsw.efSearch = ef_search

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, kind: str = "ivf", **params: int) -> "AnnIndex":
        """Train (IVF: bounded k-means, see TRAIN_PER_LIST) and fill a new index."""
        if kind in ("ivf", "ivfpq"):
            nlist = ivf_nlist(len(vectors), kind)
            rng = np.random.default_rng(0)
            want = train_per_list(kind) * nlist
            sample = vectors if len(vectors) <= want else vectors[np.sort(rng.choice(len(vectors), want, replace=False))]
            ann = cls.trained_ivf(dim, nlist, sample, kind, **params)
            ann.trained_on = len(vectors)
            ann.add(ids, vectors)
            return ann
        faiss = _faiss()
        if kind == "hnsw":
            hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 64
            index = faiss.IndexIDMap2(hnsw)
        else:
            raise ValueError(f"unknown ANN kind {kind!r}; choose one of {', '.join(KINDS)}")
        ann = cls(index, kind, **params)
        ann.add(ids, vectors)
        return ann

    @classmethod
    def trained_ivf(cls, dim: int, nlist: int, sample: np.ndarray, kind: str = "ivf", **params: int) -> "AnnIndex":
        """An empty IVF index whose lists are k-means centroids of `sample` (ivfpq: and whose PQ
        codebooks are trained on the residuals of the same sample)."""
        faiss = _faiss()
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        # Coarse k-means (BLAS-heavy: all threads), spherical like faiss's own IVF training for inner product.
        cp = faiss.ClusteringParameters()
        cp.niter, cp.max_points_per_centroid, cp.spherical, cp.seed = TRAIN_ITERS, train_per_list(kind), True, 1
        cp.min_points_per_centroid = 1  # silence the "please provide more points" warning: chosen on purpose
        quantizer = faiss.IndexFlatIP(dim)
        faiss.Clustering(dim, nlist, cp).train(sample, quantizer)
        if kind == "ivfpq":
            index = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, pq_codes(dim), 4, faiss.METRIC_INNER_PRODUCT)
            # 256 tiny k-means (16 codewords in 4-d): bounded sample and iterations, and ONE thread — OpenMP
            # over such small jobs spins, and on a loaded 2-core box 2 threads took 55 s wall vs 1.3 s.
            index.pq.cp.niter, index.pq.cp.max_points_per_centroid, index.pq.cp.min_points_per_centroid = PQ_TRAIN_ITERS, PQ_TRAIN_PER_CODE, 1
            before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                index.train(sample)  # the quantizer is trained: this trains the PQ codebooks on residuals only
            finally:
                faiss.omp_set_num_threads(before)
        else:
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(sample)  # no-op beyond bookkeeping: the quantizer is trained
        index.own_fields = True  # the index frees its quantizer
        quantizer.this.disown()
        return cls(index, kind, **params)

    def needs_retrain(self) -> bool:
        """An IVF index that has grown GROWTH x past its training size scans too-long lists."""
        return self.kind in ("ivf", "ivfpq") and self.ntotal > GROWTH * max(1, self.trained_on)

    def retrained(self, vectors_of: Callable[[np.ndarray], np.ndarray] | None = None, **params: int) -> "AnnIndex":
        """A new IVF index with nlist for today's size. IVF-Flat: filled by moving every list out of
        this one (each old list is freed once moved; no SQLite re-read — the allocator may still hold
        ~2-3x the vector bytes at the peak, measured at 640k). IVF-PQ: its codes are lossy, so the
        vectors come from `vectors_of(ids)` (the store's float16 cache), a chunk at a time.
        This index is unusable afterwards."""
        faiss = _faiss()
        ivf = faiss.extract_index_ivf(self.index)
        invlists = ivf.invlists
        sizes = np.array([invlists.list_size(i) for i in range(ivf.nlist)], dtype=np.int64)
        if self.kind == "ivfpq":
            if vectors_of is None:
                raise ValueError("retraining a compressed index needs the exact vectors (vectors_of)")
            ids = np.concatenate([faiss.rev_swig_ptr(invlists.get_ids(lst), int(size)).astype(np.int64)  # type: ignore[attr-defined]
                                  for lst, size in enumerate(sizes) if size] or [np.empty(0, np.int64)])
            ids.sort()
            total = len(ids)
            nlist = ivf_nlist(total, self.kind)
            rng = np.random.default_rng(0)
            picks = ids[np.sort(rng.choice(total, min(total, TRAIN_PER_LIST_PQ * nlist), replace=False))]
            dim = int(ivf.d)
            del ivf, invlists  # views into self.index
            self.index = None  # free the old codes before the new ones grow
            new = AnnIndex.trained_ivf(dim, nlist, vectors_of(picks), "ivfpq", **params)
            for start in range(0, total, 65536):
                chunk = ids[start:start + 65536]
                new.add(chunk, vectors_of(chunk))
            new.trained_on = total
            return new
        total = int(sizes.sum())
        nlist = ivf_nlist(total)
        rng = np.random.default_rng(0)
        picks = np.sort(rng.choice(total, min(total, TRAIN_PER_LIST * nlist), replace=False))
        sample_parts, offset = [], 0
        for lst in range(ivf.nlist):
            size = int(sizes[lst])
            if not size:
                continue
            inside = picks[(picks >= offset) & (picks < offset + size)] - offset
            if len(inside):
                sample_parts.append(self._list_vectors(invlists, lst, size, ivf.d)[1][inside])
            offset += size
        new = AnnIndex.trained_ivf(ivf.d, nlist, np.concatenate(sample_parts), **params)
        for lst in range(ivf.nlist):
            size = int(sizes[lst])
            if size:
                new.add(*self._list_vectors(invlists, lst, size, ivf.d))
                invlists.resize(lst, 0)
        new.trained_on = total
        return new

    @staticmethod
    def _list_vectors(invlists: object, lst: int, size: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        ids = faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy()  # type: ignore[attr-defined]
        codes = faiss.rev_swig_ptr(invlists.get_codes(lst), size * dim * 4).copy()  # type: ignore[attr-defined]
        return ids.astype(np.int64), codes.view(np.float32).reshape(size, dim)

    @property
    def ntotal(self) -> int:
        if self.index is None:
            return 0
        return int(self.index.ntotal)  # type: ignore[attr-defined]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(  # type: ignore[attr-defined]
                np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
            )

    @property
    def can_remove(self) -> bool:
        return self.kind in ("ivf", "ivfpq")

    def remove(self, ids: np.ndarray) -> None:
        """IVF removes in place; HNSW cannot, so its stale ids are filtered by the caller."""
        if self.can_remove and len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))  # type: ignore[attr-defined]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the k nearest, best first; -1 ids (empty slots) removed. For a `compressed`
        index the scores (and so the order) are approximate.

        One query runs on one OpenMP thread: faiss would otherwise wake its whole pool for a few
        hundred microseconds of work, which on a busy machine shows up as multi-ms p99 spikes.
        omp_set_num_threads is per calling thread, so index builds elsewhere keep all cores."""
        faiss = _faiss()
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)  # type: ignore[attr-defined]
        finally:
            faiss.omp_set_num_threads(before)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, path: Path) -> None:
        faiss = _faiss()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, kind: str, trained_on: int = 0, **params: int) -> "AnnIndex":
        return cls(_faiss().read_index(str(path)), kind, trained_on=trained_on, **params)
