"""Open, list and drop collections on either backend. Collection names are plain identifiers, so a
name can never reach outside the data folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from outcrop.search.store import CollectionNotFound, SearchError, VectorStore

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_COLLECTION = "default"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise SearchError(f"invalid collection name {name!r}: use 1–64 letters, digits, '_' or '-', starting with a letter or digit")
    return name


def local_root(data_dir: Path) -> Path:
    return data_dir / "search"


def open_collection(
    name: str, *, data_dir: Path, uri: str | None = None, model_key: str | None = None, dimension: int | None = None,
    reindex: bool = False,
) -> VectorStore:
    """Open `name`; with `model_key`/`dimension`, create it if missing and check it matches them."""
    check_name(name)
    if reindex:
        drop_collection(name, data_dir=data_dir, uri=uri)
    store: VectorStore
    if uri:
        from outcrop.search.milvus import MilvusStore

        store = MilvusStore(uri, name, model_id=model_key, dimension=dimension)
    else:
        from outcrop.search.local import LocalStore

        store = LocalStore(local_root(data_dir) / name, name, model_id=model_key, dimension=dimension)
    if model_key is not None and dimension is not None:
        try:
            store.check_compatible(model_key, dimension)
        except SearchError:
            store.close()
            raise
    return store


def list_collections(*, data_dir: Path, uri: str | None = None) -> list[str]:
    if uri:
        from outcrop.search.milvus import list_milvus_collections

        return list_milvus_collections(uri)
    root = local_root(data_dir)
    return sorted(p.name for p in root.iterdir() if (p / "collection.sqlite").exists()) if root.is_dir() else []


def drop_collection(name: str, *, data_dir: Path, uri: str | None = None) -> None:
    check_name(name)
    if uri:
        from outcrop.search.milvus import drop_milvus_collection

        drop_milvus_collection(uri, name)
        return
    folder = local_root(data_dir) / name
    if folder.exists():
        shutil.rmtree(folder)


__all__ = ["CollectionNotFound", "DEFAULT_COLLECTION", "check_name", "drop_collection", "list_collections", "open_collection"]
