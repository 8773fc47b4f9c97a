"""Queries over a collection: by text, by image, and near-duplicate groups."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from outcrop.search.embedder import Embedder
from outcrop.search.files import UnreadableImage, load_image
from outcrop.search.store import Filters, Hit, SearchError, VectorStore


def query_vector(store: VectorStore, embedder: Embedder, *, text: str | None = None, image: Image.Image | None = None,
                 image_path: Path | None = None) -> np.ndarray:
    """The vector to search with; an image already indexed with the same content reuses its vector."""
    store.check_compatible(embedder.model_key, embedder.dimension)
    if text is not None:
        if not text.strip():
            raise SearchError("the text query is empty")
        return embedder.embed_text(text)
    if image_path is not None:
        try:
            loaded = load_image(str(image_path))
        except UnreadableImage as exc:
            raise SearchError(f"cannot use {image_path} as a query: {exc}") from None
        known = store.vectors_by_hash({loaded.content_hash})
        if loaded.content_hash in known:
            return known[loaded.content_hash]
        image = loaded.image
    if image is None:
        raise SearchError("give a text or an image to search with")
    return embedder.embed_images([image])[0]


def search(store: VectorStore, embedder: Embedder, *, k: int = 10, filters: Filters | None = None, **query: Any) -> list[Hit]:
    if not 1 <= k <= 1000:
        raise SearchError(f"k must be between 1 and 1000, not {k}")
    return store.similar(query_vector(store, embedder, **query), k, filters)


def find_dupes(store: VectorStore, threshold: float = 0.95, k: int = 5) -> list[list[Hit]]:
    """Groups of images whose vectors are within `threshold` cosine of each other (union of pairs)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    hits_by_id: dict[int, Hit] = {}
    for path in store.manifest():
        own = store.get_hit(path)
        if own is None:
            continue
        hits_by_id[own.id] = own
        for hit in store.similar_by_id(own.id, k):
            if hit.score >= threshold:
                hits_by_id.setdefault(hit.id, hit)
                parent[find(hit.id)] = find(own.id)
    groups: dict[int, list[Hit]] = {}
    for item_id in parent:
        groups.setdefault(find(item_id), []).append(hits_by_id[item_id])
    return sorted((sorted(g, key=lambda h: h.path) for g in groups.values() if len(g) > 1), key=lambda g: g[0].path)


def hit_dict(hit: Hit) -> dict[str, Any]:
    return asdict(hit)
