"""The scale-out store: Milvus through pymilvus `MilvusClient`. The same code runs on Milvus Lite
(a local `.db` path) and on a Milvus server or cluster (`http://host:19530`).

Rows are keyed by path (the primary key), so an upsert is Milvus's own `upsert` and a delete is by
key. The first version keyed rows by an auto id and deleted a batch's paths by filter before each
insert: Milvus Lite scans the whole collection for such a filter, so indexing slowed as it grew
(250 rows/s at 100k, 3.2 s per batch of 1,000 already at 20k rows). Those collections are refused
with a message to re-index. `id`, which hits and `similar_by_id` use, is a stable 63-bit hash of the
path. The collection's model id, dimension and schema version live in its properties.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from outcrop.search.store import (
    BackendUnavailable,
    CollectionInfo,
    CollectionMismatch,
    CollectionNotFound,
    Filters,
    Hit,
    ImageRecord,
    ManifestRow,
    VectorStore,
    normalize,
)

PREFIX = "outcrop_"
FIELDS = ["id", "path", "size", "mtime", "content_hash", "width", "height", "taken_at"]
CONNECT_TIMEOUT_S = 10.0
SCHEMA_VERSION = "2"  # 2: path is the primary key (1, unmarked: auto-id key, delete-by-filter upserts)
MAX_PATH = 4096


def path_id(path: str) -> int:
    """A stable positive int64 for a path (collisions: ~5e-8 at 1M paths)."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big") >> 1


def _client(uri: str) -> Any:
    from pymilvus import MilvusClient

    try:
        return MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:  # pymilvus raises MilvusException or grpc errors, by version
        raise BackendUnavailable(f"cannot reach Milvus at {uri}: {exc}. Start it, or check --uri / OUTCROP_SEARCH_URI.") from None


def _quote(value: str) -> str:
    return json.dumps(value)  # a double-quoted string literal with escapes, as Milvus expressions take


class MilvusStore(VectorStore):
    def __init__(self, uri: str, name: str, *, model_id: str | None = None, dimension: int | None = None, index_type: str = "AUTOINDEX") -> None:
        self.uri = uri
        self.client = _client(uri)
        self.collection = PREFIX + name
        try:
            exists = self.client.has_collection(self.collection)
            if not exists:
                if model_id is None or dimension is None:
                    raise CollectionNotFound(f"no collection '{name}' in Milvus at {uri}; create it with `outcrop index DIR --collection {name} --uri {uri}`")
                self._create(model_id, dimension, index_type)
            props = self.client.describe_collection(self.collection).get("properties") or {}
            if props.get("outcrop.schema") != SCHEMA_VERSION:
                raise CollectionMismatch(
                    f"collection '{name}' in Milvus at {uri} was made by an older outcrop, whose rows every "
                    f"update had to scan for. Re-index it: `outcrop index DIR --collection {name} --uri {uri} --reindex`."
                )
        except (CollectionNotFound, CollectionMismatch):
            self.close()  # a refused open must not leave its connection behind in a long-running server
            raise
        except Exception as exc:
            self.close()
            raise BackendUnavailable(f"Milvus at {uri} failed: {exc}") from None
        self.info = CollectionInfo(name=name, model_id=props.get("outcrop.model_id", "?"),
                                   dimension=int(props.get("outcrop.dimension", 0)),
                                   backend="milvus", location=f"{uri}#{self.collection}")
        self.client.load_collection(self.collection)

    def _create(self, model_id: str, dimension: int, index_type: str) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("path", DataType.VARCHAR, max_length=MAX_PATH, is_primary=True)
        schema.add_field("id", DataType.INT64)  # path_id(path)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("size", DataType.INT64)
        schema.add_field("mtime", DataType.DOUBLE)
        schema.add_field("date", DataType.DOUBLE)
        schema.add_field("width", DataType.INT64)   # -1 when unknown (no nullable fields on older servers)
        schema.add_field("height", DataType.INT64)
        schema.add_field("taken_at", DataType.DOUBLE)  # -1 when the image has no EXIF time
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type=index_type, metric_type="IP")
        # Collection properties, not the description: Milvus Lite drops descriptions.
        self.client.create_collection(self.collection, schema=schema, index_params=index,
                                      properties={"outcrop.model_id": model_id, "outcrop.dimension": str(dimension),
                                                  "outcrop.schema": SCHEMA_VERSION})

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise BackendUnavailable(f"Milvus at {self.uri} failed to {what}: {exc}") from None

    # -- writes ----------------------------------------------------------------------------------
    def upsert(self, records: Sequence[ImageRecord]) -> None:
        if not records:
            return
        vecs = normalize(np.stack([np.asarray(r.vector, dtype=np.float32).reshape(-1) for r in records]))
        if vecs.shape[1] != self.info.dimension:
            self.check_compatible(self.info.model_id, int(vecs.shape[1]))
        keep = sorted({r.path: i for i, r in enumerate(records)}.values())  # one row per key: the last record for a path wins
        records, vecs = [records[i] for i in keep], vecs[keep]
        rows = [{"vector": v.tolist(), "path": r.path, "id": path_id(r.path), "content_hash": r.content_hash, "size": r.size, "mtime": r.mtime,
                 "date": r.date, "width": r.width if r.width is not None else -1, "height": r.height if r.height is not None else -1,
                 "taken_at": r.taken_at if r.taken_at is not None else -1.0} for r, v in zip(records, vecs, strict=True)]
        self._call("upsert", self.client.upsert, self.collection, rows)

    def delete(self, paths: Sequence[str]) -> None:
        for start in range(0, len(paths), 1000):
            self._call("delete", self.client.delete, self.collection, ids=list(paths[start:start + 1000]))

    # -- reads -----------------------------------------------------------------------------------
    def count(self) -> int:
        rows = self._call("count", self.client.query, self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _iterate(self, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        iterator = self._call("query", self.client.query_iterator, self.collection, batch_size=1000, filter=expr, output_fields=fields)
        try:
            while batch := self._call("query", iterator.next):
                yield from batch
        finally:
            iterator.close()

    def manifest(self) -> dict[str, ManifestRow]:
        return {r["path"]: ManifestRow(id=int(r["id"]), content_hash=r["content_hash"], size=int(r["size"]), mtime=float(r["mtime"]))
                for r in self._iterate("", ["id", "path", "content_hash", "size", "mtime"])}

    def vectors_by_hash(self, hashes: set[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        expr = "content_hash in [" + ", ".join(_quote(h) for h in hashes) + "]"
        rows = self._call("query", self.client.query, self.collection, filter=expr, output_fields=["content_hash", "vector"], limit=16384)
        return {r["content_hash"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def vector_of(self, item_id: int) -> np.ndarray | None:
        rows = self._call("query", self.client.query, self.collection, filter=f"id == {int(item_id)}", output_fields=["vector"])
        return np.asarray(rows[0]["vector"], dtype=np.float32) if rows else None

    def get_hit(self, path: str) -> Hit | None:
        rows = self._call("query", self.client.query, self.collection, filter=f"path == {_quote(path)}", output_fields=FIELDS)
        return _hit(rows[0], 1.0) if rows else None

    def similar(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        query = normalize(np.asarray(vector, dtype=np.float32).reshape(-1))
        if query.shape[0] != self.info.dimension:
            self.check_compatible(self.info.model_id, int(query.shape[0]))
        result = self._call("search", self.client.search, self.collection, data=[query.tolist()], limit=k,
                            filter=_expr(filters) if filters else "", output_fields=FIELDS, search_params={"metric_type": "IP"})
        return [_hit(r["entity"], float(r["distance"])) for r in result[0]]

    def similar_by_id(self, item_id: int, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        vector = self.vector_of(item_id)
        if vector is None:
            raise CollectionNotFound(f"no image with id {item_id} in collection '{self.info.name}'")
        return [h for h in self.similar(vector, k + 1, filters) if h.id != item_id][:k]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass


def _expr(filters: Filters) -> str:
    parts = []
    if filters.folder_prefix is not None:
        escaped = filters.folder_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"path like {_quote(escaped + '%')}")
    if filters.after is not None:
        parts.append(f"date >= {float(filters.after)}")
    if filters.before is not None:
        parts.append(f"date <= {float(filters.before)}")
    if filters.min_bytes is not None:
        parts.append(f"size >= {int(filters.min_bytes)}")
    return " and ".join(parts)


def _hit(row: dict[str, Any], score: float) -> Hit:
    def opt(value: Any) -> Any:
        return None if value is None or value < 0 else value

    return Hit(id=int(row["id"]), path=row["path"], score=score, size=int(row["size"]), mtime=float(row["mtime"]),
               content_hash=row["content_hash"], width=opt(row.get("width")), height=opt(row.get("height")), taken_at=opt(row.get("taken_at")))


def list_milvus_collections(uri: str) -> list[str]:
    client = _client(uri)
    return sorted(n[len(PREFIX):] for n in client.list_collections() if n.startswith(PREFIX))


def drop_milvus_collection(uri: str, name: str) -> None:
    client = _client(uri)
    if client.has_collection(PREFIX + name):
        client.drop_collection(PREFIX + name)
