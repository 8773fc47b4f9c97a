"""Incremental indexing: scan, skip unchanged files (size + mtime, then content hash), embed the rest
in batches, commit each batch in one transaction, drop files that are gone.

An interrupted run resumes where it stopped: committed batches are in the manifest and skipped.
Bad files are reported and skipped; nothing but a broken store or embedder stops a run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from outcrop.search.embedder import Embedder
from outcrop.search.files import LoadedImage, UnreadableImage, load_image, scan
from outcrop.search.store import CollectionMismatch, ImageRecord, VectorStore

logger = logging.getLogger(__name__)


@dataclass
class IndexReport:
    scanned: int = 0
    unchanged: int = 0
    embedded: int = 0
    reused: int = 0  # same content already embedded (a copy, or a touched file): vector reused
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def index_folder(
    store: VectorStore, embedder: Embedder, root: Path, *, recursive: bool = False, batch_size: int = 32,
    progress: bool = True, on_skip: Callable[[str, str], None] | None = None,
) -> IndexReport:
    """Bring `store` in line with the images under `root`."""
    store.check_compatible(embedder.model_key, embedder.dimension)
    report = IndexReport()
    started = time.perf_counter()

    def skip(path: str, reason: str) -> None:
        report.skipped.append((path, reason))
        if on_skip:
            on_skip(path, reason)

    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    files = list(scan(root, recursive, skip))
    report.scanned = len(files)
    manifest = store.manifest()
    top = os.path.abspath(root) + os.sep
    present = set(files)
    gone = [p for p in manifest if p.startswith(top) and p not in present and (recursive or os.path.dirname(p) + os.sep == top)]
    store.delete(gone)
    report.deleted = len(gone)

    todo = []
    for path in files:
        row = manifest.get(path)
        try:
            st = os.stat(path)
        except OSError:
            skip(path, "file disappeared or is a broken link")
            continue
        if row is not None and row.size == st.st_size and row.mtime == st.st_mtime:
            report.unchanged += 1
        else:
            todo.append(path)

    bar = _progress(len(todo), progress)
    try:
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            loaded: list[LoadedImage] = []
            for path in batch:
                try:
                    loaded.append(load_image(path))
                except UnreadableImage as exc:
                    skip(path, str(exc))
            _embed_and_store(store, embedder, loaded, report)
            bar.update(len(batch))
            report.seconds = time.perf_counter() - started
    finally:
        bar.close()
        store.flush()
    report.seconds = time.perf_counter() - started
    return report


def _embed_and_store(store: VectorStore, embedder: Embedder, loaded: list[LoadedImage], report: IndexReport) -> None:
    if not loaded:
        return
    known = store.vectors_by_hash({item.content_hash for item in loaded})
    need: dict[str, LoadedImage] = {}
    for item in loaded:
        if item.content_hash not in known:
            need.setdefault(item.content_hash, item)
    if need:
        vectors = embedder.embed_images([item.image for item in need.values()])
        if vectors.shape[1] != store.info.dimension:
            raise CollectionMismatch(
                f"the model returned {vectors.shape[1]}-d vectors but collection '{store.info.name}' holds "
                f"{store.info.dimension}-d ones. Re-index: `outcrop index DIR --collection {store.info.name} --reindex`."
            )
        known.update(zip(need, vectors, strict=True))
        report.embedded += len(need)
    report.reused += len(loaded) - len(need)
    store.upsert([
        ImageRecord(path=i.path, content_hash=i.content_hash, size=i.size, mtime=i.mtime, vector=np.asarray(known[i.content_hash]),
                    width=i.width, height=i.height, taken_at=i.taken_at)
        for i in loaded
    ])


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc="indexing", smoothing=0.1, dynamic_ncols=True)
