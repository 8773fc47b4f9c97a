"""Approximate nearest-neighbour index (faiss) over unit vectors, inner product = cosine.

Chosen by measurement (notes/search.md, bench/search.py): faiss IVF-Flat adds vectors at tens of
thousands per second (an add is one centroid assignment) and answers in a few ms with recall@10
≥ 0.95 at nprobe 32 on clustered and real embeddings; HNSW answers faster but inserts far slower
than the 5,000/s goal at 1024-d on two cores. Both kinds are kept selectable for the benchmark.
Files are written to a temporary name and `os.replace`d, so a crash never leaves a torn index.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

KINDS = ("ivf", "hnsw")


def _faiss():  # type: ignore[no-untyped-def]
    import faiss

    return faiss


class AnnIndex:
    """A faiss index with int64 ids (our SQLite row ids)."""

    def __init__(self, index: object, kind: str, nprobe: int = 32, ef_search: int = 96) -> None:
        self.index = index
        self.kind = kind
        self.set_params(nprobe=nprobe, ef_search=ef_search)

    def set_params(self, nprobe: int = 32, ef_search: int = 96) -> None:
        faiss = _faiss()
        if self.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = nprobe
        else:
            faiss.downcast_index(self.index.index).hnsw.efSearch = ef_search

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, kind: str = "ivf", **params: int) -> "AnnIndex":
        """Train (IVF: k-means on up to 64 points per list) and fill a new index."""
        faiss = _faiss()
        if kind == "ivf":
            nlist = int(min(4096, max(64, 4 * np.sqrt(len(vectors)))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors if len(vectors) <= 64 * nlist else vectors[rng.choice(len(vectors), 64 * nlist, replace=False)]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        elif kind == "hnsw":
            hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 64
            index = faiss.IndexIDMap2(hnsw)
        else:
            raise ValueError(f"unknown ANN kind {kind!r}; choose one of {', '.join(KINDS)}")
        ann = cls(index, kind, **params)
        ann.add(ids, vectors)
        return ann

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)  # type: ignore[attr-defined]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(  # type: ignore[attr-defined]
                np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
            )

    @property
    def can_remove(self) -> bool:
        return self.kind == "ivf"

    def remove(self, ids: np.ndarray) -> None:
        """IVF removes in place; HNSW cannot, so its stale ids are filtered by the caller."""
        if self.can_remove and len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))  # type: ignore[attr-defined]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the k nearest, best first; -1 ids (empty slots) removed."""
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)  # type: ignore[attr-defined]
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
    def load(cls, path: Path, kind: str, **params: int) -> "AnnIndex":
        return cls(_faiss().read_index(str(path)), kind, **params)
