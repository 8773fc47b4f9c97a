"""A memory-mapped float16 copy of the stored vectors, addressed by SQLite row id (slot = id).

The compressed ANN index (IVF-PQ fast-scan) only ranks candidates approximately; the store re-ranks
them against these vectors, and a retrain re-reads them from here instead of from SQLite. It is a
cache of the table, like the index file: a slot's vector never changes (an upsert gets a new row id),
so replaying rows newer than the index's watermark into it after a crash is idempotent, and a file
shorter than the watermark (or of the wrong dimension) is rebuilt from SQLite. float16 halves the
bytes of float32; its rounding (~1e-5 on a cosine) only orders the candidates, the final hits are
scored again in float32 from SQLite. Deleted rows leave their slot behind (ids are never reused).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

DTYPE = np.float16


class VectorCache:
    """Slots 0..capacity-1 of `dim` float16 values in one file, grown by doubling."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim = path, dim
        self.row_bytes = dim * np.dtype(DTYPE).itemsize
        self._fh = open(path, "a+b")
        self._map: mmap.mmap | None = None
        self._mat = np.empty((0, dim), dtype=DTYPE)
        self._remap()

    @property
    def capacity(self) -> int:
        return len(self._mat)

    def _remap(self) -> None:
        size = os.fstat(self._fh.fileno()).st_size
        rows = size // self.row_bytes
        self._mat = np.empty((0, self.dim), dtype=DTYPE)
        if self._map is not None:
            self._map.close()
            self._map = None
        if rows:
            self._map = mmap.mmap(self._fh.fileno(), rows * self.row_bytes)
            self._mat = np.frombuffer(self._map, dtype=DTYPE).reshape(rows, self.dim)

    def holds_up_to(self, max_id: int) -> bool:
        return self.capacity > max_id

    def put(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        top = int(ids.max())
        if top >= self.capacity:
            rows = max(top + 1, 2 * self.capacity, 1024)
            self._mat = np.empty((0, self.dim), dtype=DTYPE)  # drop views before the map closes
            if self._map is not None:
                self._map.close()
                self._map = None
            os.posix_fallocate(self._fh.fileno(), 0, rows * self.row_bytes)  # never shrinks: another process may have grown it
            self._remap()
        self._mat[ids] = vectors.astype(DTYPE)

    def get(self, ids: np.ndarray) -> np.ndarray:
        """float32 rows for `ids` (all must be < capacity)."""
        return self._mat[ids].astype(np.float32)

    def scores(self, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        return self._mat[ids].astype(np.float32) @ query

    def flush(self) -> None:
        if self._map is not None:
            self._map.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._mat = np.empty((0, self.dim), dtype=DTYPE)
        if self._map is not None:
            self._map.close()
            self._map = None
        self._fh.close()
