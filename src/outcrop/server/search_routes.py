"""Image-search routes, under `/outcrop/v1/...`: outcrop's own API, not a Bedrock one.

Errors here use outcrop's own body `{"error": code, "message": ...}`. Paths sent over HTTP (a query
image on disk, a folder filter) must resolve (symlinks followed) inside OUTCROP_SEARCH_ROOTS, else 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from outcrop.search.collections import list_collections, open_collection
from outcrop.search.embedder import DEFAULT_MODEL
from outcrop.search.store import Filters, SearchError, VectorStore

router = APIRouter(prefix="/outcrop/v1", tags=["outcrop image search"])
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="Text query (any language the model understands).", max_length=2000)
    image: str | None = Field(None, description="Base64-encoded query image (PNG, JPEG, WebP, GIF, BMP, TIFF).")
    imagePath: str | None = Field(None, description="Query image on the server's disk; must lie inside OUTCROP_SEARCH_ROOTS.")
    k: int = Field(10, ge=1, le=1000, description="Number of results.")
    folder: str | None = Field(None, description="Only images under this folder (inside OUTCROP_SEARCH_ROOTS).")
    after: float | None = Field(None, description="Only images taken (EXIF) or modified at/after this POSIX time.")
    before: float | None = Field(None, description="Only images taken or modified at/before this POSIX time.")
    minBytes: int | None = Field(None, ge=0, description="Only files of at least this many bytes.")


class SearchHit(BaseModel):
    id: int = Field(description="Row id inside the collection.")
    path: str = Field(description="Absolute path of the image file.")
    score: float = Field(description="Cosine similarity to the query, -1..1, higher is closer.")
    size: int = Field(description="File size in bytes.")
    mtime: float = Field(description="File modification time (POSIX seconds) when indexed.")
    content_hash: str = Field(description="sha256 of the file's bytes.")
    width: int | None = Field(None, description="Width in pixels.")
    height: int | None = Field(None, description="Height in pixels.")
    taken_at: float | None = Field(None, description="EXIF DateTimeOriginal (POSIX seconds), when present.")


class SearchResponse(BaseModel):
    collection: str = Field(description="Collection searched.")
    hits: list[SearchHit] = Field(description="Best first.")


class CollectionSummary(BaseModel):
    name: str
    model_id: str = Field(description="Model (and weights) whose vectors the collection holds.")
    dimension: int
    count: int = Field(description="Number of indexed images.")
    backend: str = Field(description="`local` (SQLite + faiss) or `milvus`.")


def search_roots(settings: Any) -> list[Path]:
    return [Path(p).resolve() for p in settings.search_roots]


class PathRefused(SearchError):
    status = 403


def inside_roots(raw: str, settings: Any) -> Path:
    """The real path of `raw` if it lies inside a configured root; PathRefused otherwise."""
    roots = search_roots(settings)
    if not roots:
        raise PathRefused("this server has no search roots (OUTCROP_SEARCH_ROOTS), so it accepts no file paths")
    real = Path(os.path.realpath(raw))
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise PathRefused(f"path {raw!r} is outside the configured search roots; give a path inside one of them")
    return real


def _error(exc: SearchError) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=exc.status)


def _stores(request: Request) -> dict[str, VectorStore]:
    if not hasattr(request.app.state, "search_stores"):
        request.app.state.search_stores = {}
    return request.app.state.search_stores  # type: ignore[no-any-return]


def _open(request: Request, name: str) -> VectorStore:
    stores = _stores(request)
    if name not in stores:
        settings = request.app.state.runtime.settings
        stores[name] = open_collection(name, data_dir=settings.data_dir, uri=settings.search_uri or None)
    return stores[name]


async def _embed(request: Request, store: VectorStore, text: str | None, image: Any) -> np.ndarray:
    from outcrop.errors import BedrockError
    from outcrop.tasks.embedding import EmbedTask

    runtime = request.app.state.runtime
    entry = runtime.table.resolve(DEFAULT_MODEL)
    store.check_compatible(f"{entry.model_id}:{entry.weights}", store.info.dimension)
    task = EmbedTask(text=text, image=image, dimensions=store.info.dimension)
    try:
        engine = await runtime.pool.get(entry)
        engine.check(task)
        return np.asarray((await engine.embed(task)).vector, dtype=np.float32)
    except BedrockError as exc:
        raise SearchError(f"embedding failed: {exc.code}: {exc.message}") from None


@router.get("/collections", response_model=list[CollectionSummary], summary="List image collections")
async def list_all(request: Request) -> Any:
    settings = request.app.state.runtime.settings
    try:
        names = await asyncio.to_thread(list_collections, data_dir=settings.data_dir, uri=settings.search_uri or None)
        out = []
        for name in names:
            store = await asyncio.to_thread(_open, request, name)
            out.append(CollectionSummary(name=name, model_id=store.info.model_id, dimension=store.info.dimension,
                                         count=await asyncio.to_thread(store.count), backend=store.info.backend))
        return out
    except SearchError as exc:
        return _error(exc)


@router.post("/collections/{name}/search", response_model=SearchResponse, summary="Search a collection by text or image",
             responses={403: {"description": "A path outside the search roots."}, 404: {"description": "No such collection."},
                        409: {"description": "The collection was built with another model or dimension."}})
async def search_collection(name: str, body: SearchRequest, request: Request) -> Any:
    from PIL import Image

    try:
        given = [v for v in (body.text, body.image, body.imagePath) if v is not None]
        if len(given) != 1:
            raise SearchError("give exactly one of text, image or imagePath")
        settings = request.app.state.runtime.settings
        folder = str(inside_roots(body.folder, settings)) if body.folder is not None else None
        store = await asyncio.to_thread(_open, request, name)
        image = None
        if body.image is not None or body.imagePath is not None:
            data = _image_bytes(body, settings)
            try:
                image = Image.open(io.BytesIO(data)).convert("RGB")
            except Exception:
                raise SearchError("the query image is not a readable image") from None
        vector = await _embed(request, store, body.text, image)
        filters = Filters(folder=folder, after=body.after, before=body.before, min_bytes=body.minBytes)
        hits = await asyncio.to_thread(store.similar, vector, body.k, filters or None)
        return SearchResponse(collection=name, hits=[SearchHit(**h.__dict__) for h in hits])
    except SearchError as exc:
        return _error(exc)


def _image_bytes(body: SearchRequest, settings: Any) -> bytes:
    if body.imagePath is not None:
        path = inside_roots(body.imagePath, settings)
        if not path.is_file():
            raise SearchError(f"no such image file: {body.imagePath}")
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise SearchError(f"query image is larger than {MAX_IMAGE_BYTES:,} bytes")
        return path.read_bytes()
    assert body.image is not None
    if len(body.image) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise SearchError(f"query image is larger than {MAX_IMAGE_BYTES:,} bytes")
    try:
        return base64.b64decode(body.image, validate=True)
    except (binascii.Error, ValueError):
        raise SearchError("image is not valid base64") from None
