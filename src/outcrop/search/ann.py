"""Approximate nearest-neighbour index (faiss) over unit vectors, inner product = cosine.

Chosen by measurement (bench/search_sweep.py for faiss alone, bench/search.py through the store): the
default `ivfpq` is IVF with 4-bit PQ fast-scan codes (one 4-bit code per 4 dimensions: 128 bytes for
a 1024-d vector, 1/32 of float32) and an exact (flat) coarse quantizer. Scanning full-precision lists
(`ivf`, IVF-Flat, the second pass's default) is memory-bound at 1M x 1024-d: recall 0.89 at nprobe 64
already cost 29 ms p99. Fast-scan codes are scanned from registers, so many more lists can be probed;
the store asks for k * k_factor candidates and re-ranks them exactly (`compressed`, see
search/vectors.py). Vectors are first turned by a fixed random orthogonal rotation (inner products
unchanged; stored in the index file). Real embeddings are anisotropic, and 4-bit codes over slices of
the raw coordinates put most of their error in the few high-variance dimensions, which are where
queries point too; the rotation spreads the variance evenly over the slices. At 1M powerlaw vectors
(1,000 lists, 128 probed) it took recall@10 from 0.913 (2-d slices, 400 re-ranked) to
0.963, the lists' own ceiling, with 100 re-ranked; after it, 4-d slices (half the bytes to scan) lose
almost nothing (bench/search_sweep.py --rotate). Adding a batch is a rotation, one BLAS product
against the centroids and PQ encoding. Training is bounded (TRAIN_PER_LIST points per list,
TRAIN_ITERS k-means iterations) because it is paid again each time the collection outgrows its lists
(`needs_retrain`). `ivf` and HNSW-Flat stay selectable. Files are written to a temporary name and `os.replace`d, so a crash never leaves a torn index.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

KINDS = ("ivfpq", "ivf", "hnsw")
DEFAULT_KIND = "ivfpq"
COMPRESSED_KINDS = ("ivfpq",)  # approximate scores: the store re-ranks on exact vectors
PQ_DIMS_PER_CODE = 4  # a 4-bit code (fast-scan needs 4-bit) per 4 rotated dims: 128 B at 1024-d (per 2 dims: 2x the scan, same recall)
TRAIN_PER_LIST = 16  # IVF-Flat k-means sample per list (4*sqrt(N) lists: more would cost minutes per retrain)
TRAIN_PER_LIST_PQ = 64  # ivfpq (~4x fewer lists): at 1M list imbalance 2.79 -> 1.83 vs 16, same recall, shorter scans
TRAIN_ITERS = 10
LISTS_PER_SQRT_N = 1.25  # ivfpq: 1,000 lists when trained at 640k (swept at 1M with 1,024 and 4,096)
PQ_TRAIN_ITERS = 10
PQ_TRAIN_PER_CODE = 64  # residuals per codeword for each 4-d sub-quantizer's k-means (1,024 points)
GROWTH = 8  # retrain IVF once it holds GROWTH x the vectors it was trained on (amortised O(1) per insert)
DEFAULT_NPROBE = 160  # ivfpq, 1M powerlaw through the store: 16 % of 1,000 lists, recall@10 0.966, p99 6.0 ms (128: 0.956, 192: 0.972)
DEFAULT_K_FACTOR = 20  # ivfpq: candidates re-ranked exactly = k * k_factor (at 1M, 10: 0.958, 40: 0.969 for +1.9 ms p99)
DEFAULT_EF_SEARCH = 96
ROTATION_SEED = 1234  # ivfpq: the random orthogonal rotation applied before the coarse quantizer and PQ


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
    for per in (PQ_DIMS_PER_CODE, 2, 1):
        if dim % per == 0:
            return dim // per
    return dim


# faiss-cpu wheels bundle their own OpenBLAS (0.3.15 in faiss-cpu 1.15), which picks its kernels from
# the CPU model. Virtual machines often hide the model, and then it falls back to generic SSE3 code
# ("Prescott"): here 65 GFLOPS against 217 with its AVX-512 kernels (numpy's newer OpenBLAS: 330), so
# k-means took 26.6 s instead of 5.6 s and adds ran at half speed. OpenBLAS reads OPENBLAS_CORETYPE
# once, when the library loads, so we set it, from the CPU's own feature flags, for faiss's import only.
# A user's OPENBLAS_CORETYPE wins; no flags we know of, nothing changes.
_AVX512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
_AVX2 = {"avx2", "fma"}


def openblas_coretype(cpu_flags: set[str]) -> str | None:
    """The OpenBLAS kernel set these CPU flags can run, or None to leave OpenBLAS's own choice."""
    if _AVX512 <= cpu_flags:
        return "SkylakeX"
    if _AVX2 <= cpu_flags:
        return "Haswell"
    return None


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _faiss():  # type: ignore[no-untyped-def]
    if "faiss" not in sys.modules and "OPENBLAS_CORETYPE" not in os.environ:
        coretype = openblas_coretype(_cpu_flags())
        if coretype:
            os.environ["OPENBLAS_CORETYPE"] = coretype
            try:
                import faiss
            finally:
                del os.environ["OPENBLAS_CORETYPE"]  # numpy's OpenBLAS is loaded already; children keep theirs
    import faiss

    return faiss


_NUMPY_BLAS_LOCK = threading.Lock()


@functools.cache
def _numpy_blas():  # type: ignore[no-untyped-def]
    """threadpoolctl handle on numpy's BLAS alone (not faiss's): see AnnIndex._rotated."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    return controller.select(filepath=[lib.filepath for lib in controller.lib_controllers
                                       if lib.user_api == "blas" and "faiss" not in lib.filepath])


def _right_matrix(transform: object) -> np.ndarray:
    """faiss's linear transform y = A x as the (d_in, d_out) matrix R with y = x @ R, for numpy."""
    matrix = _faiss().vector_to_array(transform.A).reshape(transform.d_out, transform.d_in)  # type: ignore[attr-defined]
    return np.ascontiguousarray(matrix.T, dtype=np.float32)


def _unwrap_rotation(index: object) -> tuple[object, np.ndarray | None]:
    """(the index to add to and search, the (d, d) matrix R with rotated = x @ R, or None). The file
    keeps faiss's IndexPreTransform(RandomRotationMatrix, IVF), so it describes itself; at run time we
    skip the wrapper and rotate with numpy (see AnnIndex._rotated). Files from before the rotation
    hold a bare IVF index and load unchanged."""
    faiss = _faiss()
    if not isinstance(index, faiss.IndexPreTransform):
        return index, None
    if index.chain.size() != 1:
        raise ValueError("unsupported ANN index file: more than one pre-transform")
    transform = faiss.downcast_VectorTransform(index.chain.at(0))
    if transform.have_bias:
        raise ValueError("unsupported ANN index file: a pre-transform with a bias")
    return index.index, _right_matrix(transform)


class AnnIndex:
    """A faiss index with int64 ids (our SQLite row ids)."""

    def __init__(self, index: object, kind: str, nprobe: int = DEFAULT_NPROBE, ef_search: int = DEFAULT_EF_SEARCH,
                 trained_on: int = 0, k_factor: int = DEFAULT_K_FACTOR) -> None:
        self.index = index
        self._target, self._rotation = _unwrap_rotation(index)
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
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, kind: str = "ivf", **params: int) -> AnnIndex:
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
    def trained_ivf(cls, dim: int, nlist: int, sample: np.ndarray, kind: str = "ivf", **params: int) -> AnnIndex:
        """An empty IVF index whose lists are k-means centroids of `sample` (ivfpq: and whose PQ
        codebooks are trained on the residuals of the same sample)."""
        faiss = _faiss()
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        rotation = None
        if kind == "ivfpq":  # everything below (centroids, codebooks) lives in the rotated space
            rotation = faiss.RandomRotationMatrix(dim, dim)
            rotation.init(ROTATION_SEED)
            sample = np.ascontiguousarray(sample @ _right_matrix(rotation))
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
        if rotation is not None:
            index = faiss.IndexPreTransform(rotation, index)  # applied to every add and query; saved in the file
        return cls(index, kind, **params)

    def needs_retrain(self) -> bool:
        """An IVF index that has grown GROWTH x past its training size scans too-long lists."""
        return self.kind in ("ivf", "ivfpq") and self.ntotal > GROWTH * max(1, self.trained_on)

    def retrained(self, vectors_of: Callable[[np.ndarray], np.ndarray] | None = None, **params: int) -> AnnIndex:
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
            self.index = self._target = None  # free the old codes before the new ones grow
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
        if self._target is None:
            return 0
        return int(self._target.ntotal)  # type: ignore[attr-defined]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._target.add_with_ids(  # type: ignore[attr-defined]
                self._rotated(vectors), np.ascontiguousarray(ids, dtype=np.int64)
            )

    def _rotated(self, vectors: np.ndarray) -> np.ndarray:
        """The stored rotation, applied by numpy (its BLAS is the fastest in the process), on one
        thread: numpy's BLAS threads spin after a product. In an add they fought faiss's OpenMP threads
        for the 2 cores (21k adds/s on 2 threads, 29k/s on 1); after a query they burnt a second core
        (CPU time per query 2x its wall time at 1M) to save 80 us."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._rotation is None:
            return vectors
        with _NUMPY_BLAS_LOCK, _numpy_blas().limit(limits=1):  # the limit is process-wide: no interleaved set/restore
            return np.ascontiguousarray(vectors @ self._rotation)

    @property
    def can_remove(self) -> bool:
        return self.kind in ("ivf", "ivfpq")

    def remove(self, ids: np.ndarray) -> None:
        """IVF removes in place; HNSW cannot, so its stale ids are filtered by the caller."""
        if self.can_remove and len(ids):
            self._target.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))  # type: ignore[attr-defined]

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
            scores, ids = self._target.search(self._rotated(query.reshape(1, -1)), k)  # type: ignore[attr-defined]
        finally:
            faiss.omp_set_num_threads(before)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, path: Path) -> None:
        faiss = _faiss()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if self.index is not self._target:  # adds and removes bypass the rotation wrapper: its saved count lags
            self.index.ntotal = self._target.ntotal  # type: ignore[attr-defined]
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, kind: str, trained_on: int = 0, **params: int) -> AnnIndex:
        return cls(_faiss().read_index(str(path)), kind, trained_on=trained_on, **params)
