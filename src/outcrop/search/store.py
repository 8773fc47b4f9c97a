"""The vector-store interface every backend implements, and the records it stores.

Callers only see `similar`, `similar_by_id`, `upsert`, `delete`, `count` (plus `manifest` for the
incremental indexer), so the embedded store and Milvus are interchangeable. A collection is tied to
one model id and dimension, like llm's embeddings `Collection`: a query must use the encoder that
built the index, so a mismatch is an error that says how to re-index.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


class SearchError(Exception):
    """A user-facing search failure (bad collection, backend down): printed or returned as one message."""

    status = 400


class CollectionMismatch(SearchError):
    status = 409


class CollectionNotFound(SearchError):
    status = 404


class BackendUnavailable(SearchError):
    status = 503


@dataclass(frozen=True)
class ImageRecord:
    """One indexed image: where it is, what it was when embedded, and its unit vector."""

    path: str
    content_hash: str
    size: int
    mtime: float
    vector: np.ndarray
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None  # EXIF DateTimeOriginal as a POSIX timestamp, when present

    @property
    def date(self) -> float:
        """The date filters use: when the photo was taken, else when the file last changed."""
        return self.taken_at if self.taken_at is not None else self.mtime


@dataclass(frozen=True)
class Hit:
    id: int
    path: str
    score: float
    size: int
    mtime: float
    content_hash: str
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None


@dataclass(frozen=True)
class ManifestRow:
    """What the indexer compares against the file system to skip unchanged files."""

    id: int
    content_hash: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Filters:
    """Metadata filters: a folder prefix, a date range (POSIX seconds, inclusive) and a minimum byte size."""

    folder: str | None = None
    after: float | None = None
    before: float | None = None
    min_bytes: int | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.folder, self.after, self.before, self.min_bytes))

    @property
    def folder_prefix(self) -> str | None:
        if self.folder is None:
            return None
        folder = os.path.abspath(self.folder)
        return folder if folder.endswith(os.sep) else folder + os.sep


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    model_id: str
    dimension: int
    backend: str
    location: str
    extra: dict[str, object] = field(default_factory=dict)


class VectorStore(ABC):
    """A collection of image vectors with metadata. Vectors are L2-normalised; scores are cosine."""

    info: CollectionInfo

    @abstractmethod
    def similar(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k stored images nearest to `vector`, best first."""

    @abstractmethod
    def similar_by_id(self, item_id: int, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k images nearest to a stored one, itself excluded."""

    @abstractmethod
    def upsert(self, records: Sequence[ImageRecord]) -> None:
        """Insert or replace (by path) a batch, all or nothing."""

    @abstractmethod
    def delete(self, paths: Sequence[str]) -> None:
        """Remove images by path (missing paths are ignored)."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def manifest(self) -> dict[str, ManifestRow]:
        """path → what was stored for it, for incremental indexing."""

    @abstractmethod
    def vectors_by_hash(self, hashes: set[str]) -> dict[str, np.ndarray]:
        """Stored vectors for content hashes already embedded (copies and touched files cost nothing)."""

    @abstractmethod
    def vector_of(self, item_id: int) -> np.ndarray | None:
        """The stored vector of one id, or None."""

    @abstractmethod
    def get_hit(self, path: str) -> Hit | None:
        """The stored metadata of one path (score 1.0), or None."""

    def flush(self) -> None:
        """Persist derived state (ANN index files); data is already durable after `upsert`."""

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_compatible(self, model_id: str, dimension: int) -> None:
        """Refuse to mix vectors from another model or dimension in this collection."""
        if self.info.model_id != model_id or self.info.dimension != dimension:
            raise CollectionMismatch(
                f"collection '{self.info.name}' holds {self.info.dimension}-d vectors from model "
                f"'{self.info.model_id}', but this run uses {dimension}-d vectors from '{model_id}'. "
                f"Re-index it: `outcrop index DIR --collection {self.info.name} --reindex` "
                f"(or pick another --collection)."
            )


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
