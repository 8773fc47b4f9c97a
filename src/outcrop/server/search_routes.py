"""Image-search routes, under `/outcrop/v1/...`: outcrop's own API, not a Bedrock one.

Errors here use outcrop's own body `{"error": code, "message": ...}`. Paths sent over HTTP (a query
image on disk, a folder filter) must resolve (symlinks followed) inside OUTCROP_SEARCH_ROOTS, else 403.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from outcrop.search.collections import list_collections, open_collection
from outcrop.search.embedder import DEFAULT_MODEL, jpeg_b64
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
    return JSONResponse({"error": getattr(exc, "code", type(exc).__name__), "message": str(exc)}, status_code=exc.status)


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


async def _embed(request: Request, store: VectorStore, body: dict[str, Any]) -> np.ndarray:
    """The query's vector through the embedding model's own Bedrock body (`Runtime.invoke`), so a query
    meets the same limits and errors as InvokeModel; a Bedrock error keeps its code and status."""
    from outcrop.errors import BedrockError
    from outcrop.protocols.base import INVOKE_MODEL
    from outcrop.server.errors import request_id_of

    runtime = request.app.state.runtime
    entry = runtime.table.resolve(DEFAULT_MODEL)
    store.check_compatible(f"{entry.model_id}:{entry.weights}", store.info.dimension)
    body = {**body, "embeddingConfig": {"outputEmbeddingLength": store.info.dimension}}
    try:
        reply = await runtime.invoke(INVOKE_MODEL, DEFAULT_MODEL, json.dumps(body).encode(), request_id=request_id_of(request))
    except BedrockError as exc:
        raise EmbeddingRefused(exc) from None
    return np.asarray(json.loads(reply.body)["embedding"], dtype=np.float32)


class EmbeddingRefused(SearchError):
    """The embedding model's own refusal (a bad image, throttling, a model still loading), with its status."""

    def __init__(self, error: Any) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.status = error.status
        self.code = error.code


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
    try:
        given = [v for v in (body.text, body.image, body.imagePath) if v is not None]
        if len(given) != 1:
            raise SearchError("give exactly one of text, image or imagePath")
        settings = request.app.state.runtime.settings
        folder = str(inside_roots(body.folder, settings)) if body.folder is not None else None
        store = await asyncio.to_thread(_open, request, name)
        query: dict[str, Any]
        if body.imagePath is not None:
            query = {"inputImage": await asyncio.to_thread(_file_image_b64, body.imagePath, settings)}
        else:
            query = {"inputText": body.text} if body.text is not None else {"inputImage": body.image}
        vector = await _embed(request, store, query)
        filters = Filters(folder=folder, after=body.after, before=body.before, min_bytes=body.minBytes)
        hits = await asyncio.to_thread(store.similar, vector, body.k, filters or None)
        return SearchResponse(collection=name, hits=[SearchHit(**h.__dict__) for h in hits])
    except SearchError as exc:
        return _error(exc)


def _file_image_b64(raw_path: str, settings: Any) -> str:
    """A query image on the server's disk, as the endpoint embedder sends one: a photo of any size is
    scaled to 1024 px (inside the model's limits); run off the event loop."""
    from PIL import Image

    path = inside_roots(raw_path, settings)
    if not path.is_file():
        raise SearchError(f"no such image file: {raw_path}")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise SearchError(f"query image is larger than {MAX_IMAGE_BYTES:,} bytes")
    try:
        with Image.open(path) as image:
            return jpeg_b64(image)
    except (OSError, Image.DecompressionBombError):
        raise SearchError("the query image is not a readable image") from None
