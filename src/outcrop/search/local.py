"""The embedded store: SQLite (WAL) for metadata and vectors, a faiss index file for ANN.

SQLite is the source of truth: each `upsert` is one transaction, so a killed run loses at most the
batch in flight and never duplicates. Below `exact_max` rows, queries are exact (numpy over all
vectors held in memory). Above it, a faiss index answers; it is a cache of the table, saved as
`ann-<last id>.faiss` (temp file + os.replace), and rows newer than that id are replayed on open.
Hits are always re-read from SQLite, so ids deleted since the last save never come back.
The default index (`ivfpq`) holds compressed codes: its candidates are re-ranked on a memory-mapped
float16 copy of the vectors (`vectors-f16.bin`, search/vectors.py), and the final hits are scored
in float32 from their SQLite rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from outcrop.search.ann import COMPRESSED_KINDS, DEFAULT_K_FACTOR, DEFAULT_KIND, DEFAULT_NPROBE, AnnIndex
from outcrop.search.vectors import VectorCache
from outcrop.search.store import (
    CollectionInfo,
    CollectionNotFound,
    Filters,
    Hit,
    ImageRecord,
    ManifestRow,
    VectorStore,
    normalize,
)

logger = logging.getLogger(__name__)

EXACT_MAX = 10_000  # exact numpy search up to here (20k measured 12.8 ms p50 on 2 busy cores), ANN above
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    width INTEGER,
    height INTEGER,
    taken_at REAL,
    date REAL NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS images_hash ON images (content_hash);
CREATE INDEX IF NOT EXISTS images_date ON images (date);
"""
HIT_COLUMNS = "id, path, size, mtime, content_hash, width, height, taken_at"


class LocalStore(VectorStore):
    def __init__(
        self, folder: Path, name: str, *, model_id: str | None = None, dimension: int | None = None,
        ann_kind: str = DEFAULT_KIND, exact_max: int = EXACT_MAX, nprobe: int = DEFAULT_NPROBE,
        k_factor: int = DEFAULT_K_FACTOR,
    ) -> None:
        """Open collection `name` in `folder`; create it when `model_id` and `dimension` are given."""
        self.folder = folder
        self.exact_max = exact_max
        self.ann_kind = ann_kind
        self._ann_params: dict[str, int] = {"nprobe": nprobe, "k_factor": k_factor}
        db = folder / "collection.sqlite"
        if not db.exists() and (model_id is None or dimension is None):
            raise CollectionNotFound(f"no collection '{name}' in this data directory; create it with `outcrop index DIR --collection {name}`")
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if not meta:
            assert model_id is not None and dimension is not None
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                [("model_id", model_id), ("dimension", str(dimension)), ("created", str(time.time())), ("name", name)],
            )
            self._db.execute("COMMIT")
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
        self.info = CollectionInfo(
            name=name, model_id=meta["model_id"], dimension=int(meta["dimension"]), backend="local", location=str(folder),
            extra={"ann": ann_kind, "exact_max": exact_max},
        )
        self.dim = self.info.dimension
        self._ids = np.empty(0, dtype=np.int64)
        self._mat = np.empty((0, self.dim), dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._ann: AnnIndex | None = None
        self._cache: VectorCache | None = None  # exact vectors for re-ranking a compressed index
        self._ann_dirty = False
        self._count = 0  # rows in the table, kept in memory: COUNT(*) scans an index (~10 ms at 1M rows)
        self._last_id = 0
        self._version = -1
        self._load()

    # -- in-memory state -------------------------------------------------------------------------
    def _ann_files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.folder.glob(f"ann-{self.ann_kind}-*.faiss"):
            try:
                found.append((int(path.stem.rsplit("-", 1)[1]), path))
            except ValueError:
                continue
        return sorted(found)

    def _load(self) -> None:
        self._version = self._data_version()
        count = self._count = self._count_rows()
        files = self._ann_files()
        self._ann, self._pending = None, []
        self._ids = np.empty(0, dtype=np.int64)
        self._mat = np.empty((0, self.dim), dtype=np.float32)
        if count > self.exact_max and files:
            watermark, path = files[-1]
            row = self._db.execute("SELECT value FROM meta WHERE key = 'ann_trained'").fetchone()
            self._ann = AnnIndex.load(path, self.ann_kind, trained_on=int(row[0]) if row else 0, **self._ann_params)
            self._ann.trained_on = self._ann.trained_on or self._ann.ntotal
            self._last_id = watermark
            if self._ann.compressed:
                cache = self._open_cache()
                live_max = self._db.execute("SELECT MAX(id) FROM images WHERE id <= ?", (watermark,)).fetchone()[0]
                if live_max is not None and not cache.holds_up_to(int(live_max)):  # lost or foreign: refill from SQLite
                    logger.info("collection %s: rebuilding the re-rank vector cache from SQLite", self.info.name)
                    for start in range(0, watermark + 1, 100_000):
                        cache.put(*self._read_vectors("WHERE id > ? AND id <= ?", (start - 1, min(watermark, start + 99_999))))
            ids, vecs = self._read_vectors("WHERE id > ?", (watermark,))
            if self._cache is not None:
                self._cache.put(ids, vecs)
            self._ann.add(ids, vecs)
            self._ann_dirty = len(ids) > 0
            self._last_id = max([watermark, *ids.tolist()])
            return
        ids, vecs = self._read_vectors("", ())
        self._last_id = int(ids.max()) if len(ids) else self._max_id()
        if count > self.exact_max:
            self._build_ann(ids, vecs)
        else:
            self._ids, self._mat = ids, vecs

    def _open_cache(self) -> VectorCache:
        if self._cache is None:
            self._cache = VectorCache(self.folder / f"vectors-f16-{self.dim}.bin", self.dim)
        return self._cache

    def _max_id(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'images'").fetchone()
        return int(row[0]) if row else 0

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _read_vectors(self, where: str, params: tuple[object, ...]) -> tuple[np.ndarray, np.ndarray]:
        ids: list[int] = []
        chunks: list[bytes] = []
        for row_id, blob in self._db.execute(f"SELECT id, vector FROM images {where} ORDER BY id", params):
            ids.append(row_id)
            chunks.append(blob)
        vecs = np.frombuffer(b"".join(chunks), dtype=np.float32).reshape(-1, self.dim) if chunks else np.empty((0, self.dim), np.float32)
        return np.asarray(ids, dtype=np.int64), vecs

    def _sync(self) -> None:
        """Pick up rows another process committed (a CLI index run while the server answers)."""
        version = self._data_version()
        if version == self._version:
            return
        self._version = version
        self._count = self._count_rows()
        if self._ann is None:
            self._flatten()
            if len(self._ids) != self._count or (len(self._ids) and int(self._ids.max()) < self._max_id()):
                self._load()
            return
        ids, vecs = self._read_vectors("WHERE id > ?", (self._last_id,))
        self._add_memory(ids, vecs)

    def _flatten(self) -> None:
        if self._pending:
            self._ids = np.concatenate([self._ids, *(p[0] for p in self._pending)])
            self._mat = np.concatenate([self._mat, *(p[1] for p in self._pending)])
            self._pending = []

    def _add_memory(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if not len(ids):
            return
        self._last_id = max(self._last_id, int(ids.max()))
        if self._ann is not None:
            if self._cache is not None:
                self._cache.put(ids, vecs)
            self._ann.add(ids, vecs)
            self._ann_dirty = True
            if self._ann.needs_retrain():
                logger.info("collection %s grew to %d vectors: retraining the IVF lists", self.info.name, self._ann.ntotal)
                self._ann = self._ann.retrained(vectors_of=self._cache.get if self._cache is not None else None, **self._ann_params)
            return
        self._pending.append((ids, vecs))
        if len(self._ids) + sum(len(p[0]) for p in self._pending) > self.exact_max:
            self._flatten()
            logger.info("collection %s passed %d vectors: building the %s index", self.info.name, self.exact_max, self.ann_kind)
            self._build_ann(self._ids, self._mat)
            self._ids = np.empty(0, dtype=np.int64)
            self._mat = np.empty((0, self.dim), dtype=np.float32)

    def _remove_memory(self, ids: Iterable[int]) -> None:
        gone = np.fromiter(ids, dtype=np.int64)
        if not len(gone):
            return
        if self._ann is not None:
            self._ann.remove(gone)
            self._ann_dirty = True
            return
        self._flatten()
        keep = ~np.isin(self._ids, gone)
        self._ids, self._mat = self._ids[keep], self._mat[keep]

    # -- writes ----------------------------------------------------------------------------------
    def upsert(self, records: Sequence[ImageRecord]) -> None:
        if not records:
            return
        vecs = normalize(np.stack([np.asarray(r.vector, dtype=np.float32).reshape(-1) for r in records]))
        if vecs.shape[1] != self.dim:
            self.check_compatible(self.info.model_id, int(vecs.shape[1]))
        with self._lock:
            self._sync()
            paths = [r.path for r in records]
            if len(set(paths)) != len(paths):  # the last record for a path wins, as with one-by-one upserts
                last = {p: i for i, p in enumerate(paths)}
                keep = sorted(last.values())
                records, vecs = [records[i] for i in keep], vecs[keep]
            self._db.execute("BEGIN IMMEDIATE")
            try:
                replaced = self._delete_paths([r.path for r in records])
                # AUTOINCREMENT under the write lock hands out max(seq, max id) + 1, + 2, ... in order, so one
                # executemany suffices and the ids are known without a query per row.
                first = max(self._max_id(), int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0])) + 1
                self._db.executemany(
                    "INSERT INTO images (path, content_hash, size, mtime, width, height, taken_at, date, vector) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r.path, r.content_hash, r.size, r.mtime, r.width, r.height, r.taken_at, r.date, v.tobytes())
                     for r, v in zip(records, vecs, strict=True)],
                )
                new_ids = list(range(first, first + len(records)))
                if self._max_id() != new_ids[-1]:  # never expected; then ask SQLite row by row
                    new_ids = [self._db.execute("SELECT id FROM images WHERE path = ?", (r.path,)).fetchone()[0] for r in records]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._version = self._data_version()
            self._count += len(new_ids) - len(replaced)
            self._remove_memory(replaced)
            self._add_memory(np.asarray(new_ids, dtype=np.int64), vecs)

    def delete(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        with self._lock:
            self._sync()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._delete_paths(list(paths))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._version = self._data_version()
            self._count -= len(gone)
            self._remove_memory(gone)

    def _delete_paths(self, paths: list[str]) -> list[int]:
        """Delete rows by path inside the caller's transaction; their ids."""
        gone: list[int] = []
        for start in range(0, len(paths), 500):
            chunk = paths[start:start + 500]
            marks = ",".join("?" * len(chunk))
            gone += [r[0] for r in self._db.execute(f"DELETE FROM images WHERE path IN ({marks}) RETURNING id", chunk)]
        return gone

    def flush(self) -> None:
        """Save the ANN index (if it changed) as ann-<kind>-<last id>.faiss and drop older files."""
        with self._lock:
            if self._ann is None or not self._ann_dirty:
                return
            stale = self._ann.ntotal - self._count
            # Too many tombstones (HNSW cannot delete): rebuild from the table.
            if stale > 0.25 * max(1, self._ann.ntotal):
                self._build_ann(*self._read_vectors("", ()))
            path = self.folder / f"ann-{self.ann_kind}-{self._last_id}.faiss"
            if self._cache is not None:  # the vectors up to the watermark are on disk before the index names it
                self._cache.flush()
            self._ann.save(path)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('ann_trained', ?)", (str(self._ann.trained_on),))
            for _, old in self._ann_files():
                if old != path:
                    old.unlink(missing_ok=True)
            self._ann_dirty = False

    def _build_ann(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if self.ann_kind in COMPRESSED_KINDS:
            self._open_cache().put(ids, vecs)
        self._ann = AnnIndex.build(self.dim, ids, vecs, self.ann_kind, **self._ann_params)
        self._ann_dirty = True

    def set_search_params(self, *, nprobe: int | None = None, ef_search: int | None = None, k_factor: int | None = None) -> None:
        """Trade recall for latency on the ANN index (bench/search.py sweeps these)."""
        with self._lock:
            if nprobe is not None:
                self._ann_params["nprobe"] = nprobe
            if k_factor is not None:
                self._ann_params["k_factor"] = k_factor
            if ef_search is not None:
                self._ann_params["ef_search"] = ef_search
            if self._ann is not None:
                self._ann.set_params(**self._ann_params)

    def close(self) -> None:
        self.flush()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._db.close()

    # -- reads -----------------------------------------------------------------------------------
    def count(self) -> int:
        with self._lock:
            self._sync()
            return self._count

    def _count_rows(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    def manifest(self) -> dict[str, ManifestRow]:
        with self._lock:
            return {
                path: ManifestRow(id=i, content_hash=h, size=s, mtime=m)
                for i, path, h, s, m in self._db.execute("SELECT id, path, content_hash, size, mtime FROM images")
            }

    def get_hit(self, path: str) -> Hit | None:
        with self._lock:
            row = self._db.execute(f"SELECT {HIT_COLUMNS} FROM images WHERE path = ?", (path,)).fetchone()
        return _hit(row, 1.0) if row else None

    def vectors_by_hash(self, hashes: set[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for h in hashes:
                row = self._db.execute("SELECT vector FROM images WHERE content_hash = ? LIMIT 1", (h,)).fetchone()
                if row:
                    found[h] = np.frombuffer(row[0], dtype=np.float32)
        return found

    def vector_of(self, item_id: int) -> np.ndarray | None:
        row = self._db.execute("SELECT vector FROM images WHERE id = ?", (item_id,)).fetchone()
        return np.frombuffer(row[0], dtype=np.float32) if row else None

    def similar_by_id(self, item_id: int, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        with self._lock:
            vector = self.vector_of(item_id)
            if vector is None:
                raise CollectionNotFound(f"no image with id {item_id} in collection '{self.info.name}'")
            return [h for h in self.similar(vector, k + 1, filters) if h.id != item_id][:k]

    def similar(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        query = normalize(np.asarray(vector, dtype=np.float32).reshape(-1))
        if query.shape[0] != self.dim:
            raise self._dim_error(query.shape[0])
        with self._lock:
            self._sync()
            allowed = self._allowed_ids(filters) if filters else None
            if self._ann is None:
                self._flatten()
                ids, mat = self._ids, self._mat
                if allowed is not None:
                    keep = np.isin(ids, allowed)
                    ids, mat = ids[keep], mat[keep]
                cand_ids, cand_scores = _exact(mat, ids, query, k)
            elif allowed is not None and len(allowed) <= self.exact_max:
                ids, mat = self._vectors_for(allowed)
                cand_ids, cand_scores = _exact(mat, ids, query, k)
            else:
                stale = max(0, self._ann.ntotal - self._count)
                want = k * (10 if allowed is not None else 1) + min(stale, 10 * k)
                if self._ann.compressed and self._cache is not None:
                    cand_ids, _ = self._ann.search(query, min(want * self._ann.k_factor, self._ann.ntotal))
                    if allowed is not None:
                        cand_ids = cand_ids[np.isin(cand_ids, allowed)]
                    scores = self._cache.scores(cand_ids, query)
                    order = np.argsort(-scores, kind="stable")[:want + k]
                    return self._hits(cand_ids[order], scores[order], rescore=query)[:k]
                cand_ids, cand_scores = self._ann.search(query, min(want, self._ann.ntotal))
                if allowed is not None:
                    keep = np.isin(cand_ids, allowed)
                    cand_ids, cand_scores = cand_ids[keep], cand_scores[keep]
            return self._hits(cand_ids, cand_scores)[:k]

    def _dim_error(self, got: int) -> Exception:
        from outcrop.search.store import CollectionMismatch

        return CollectionMismatch(
            f"query vector has {got} dimensions but collection '{self.info.name}' holds {self.dim}-d vectors "
            f"from '{self.info.model_id}'. Query with that model, or re-index: `outcrop index DIR --collection "
            f"{self.info.name} --reindex`."
        )

    def _allowed_ids(self, filters: Filters) -> np.ndarray:
        where, params = _where(filters)
        return np.fromiter((r[0] for r in self._db.execute(f"SELECT id FROM images WHERE {where}", params)), dtype=np.int64)

    def _vectors_for(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out_ids, blobs = [], []
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900].tolist()
            marks = ",".join("?" * len(chunk))
            for row_id, blob in self._db.execute(f"SELECT id, vector FROM images WHERE id IN ({marks})", chunk):
                out_ids.append(row_id)
                blobs.append(blob)
        mat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dim) if blobs else np.empty((0, self.dim), np.float32)
        return np.asarray(out_ids, dtype=np.int64), mat

    def _hits(self, ids: np.ndarray, scores: np.ndarray, rescore: np.ndarray | None = None) -> list[Hit]:
        """Hits for `ids` read from SQLite (rows deleted since the index saw them drop out); with `rescore`
        (the query) the scores are recomputed in float32 from the rows' vectors and the hits re-sorted."""
        if not len(ids):
            return []
        wanted = ids.tolist()
        marks = ",".join("?" * len(wanted))
        if rescore is not None:
            rows, exact = {}, {}
            for r in self._db.execute(f"SELECT {HIT_COLUMNS}, vector FROM images WHERE id IN ({marks})", wanted):
                rows[r[0]] = r[:-1]
                exact[r[0]] = float(np.frombuffer(r[-1], dtype=np.float32) @ rescore)
            wanted = sorted(rows, key=lambda i: -exact[i])
            scores = np.asarray([exact[i] for i in wanted], dtype=np.float32)
        else:
            rows = {r[0]: r for r in self._db.execute(f"SELECT {HIT_COLUMNS} FROM images WHERE id IN ({marks})", wanted)}
        seen: set[int] = set()
        hits = []
        for item_id, score in zip(wanted, scores.tolist(), strict=True):
            if item_id in rows and item_id not in seen:
                seen.add(item_id)
                hits.append(_hit(rows[item_id], score))
        return hits


def _exact(mat: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if not len(ids):
        return ids, np.empty(0, dtype=np.float32)
    scores = mat @ query
    k = min(k, len(ids))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return ids[top], scores[top]


def _where(filters: Filters) -> tuple[str, list[object]]:
    clauses, params = ["1"], []
    if filters.folder_prefix is not None:
        clauses.append("path >= ? AND path < ?")
        params += [filters.folder_prefix, filters.folder_prefix + "\U0010ffff"]
    if filters.after is not None:
        clauses.append("date >= ?")
        params.append(filters.after)
    if filters.before is not None:
        clauses.append("date <= ?")
        params.append(filters.before)
    if filters.min_bytes is not None:
        clauses.append("size >= ?")
        params.append(filters.min_bytes)
    return " AND ".join(clauses), params


def _hit(row: tuple[object, ...], score: float) -> Hit:
    item_id, path, size, mtime, content_hash, width, height, taken_at = row
    return Hit(id=int(item_id), path=str(path), score=float(score), size=int(size), mtime=float(mtime),  # type: ignore[arg-type]
               content_hash=str(content_hash), width=width, height=height, taken_at=taken_at)  # type: ignore[arg-type]

