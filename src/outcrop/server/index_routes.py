"""`POST /outcrop/v1/collections/{name}/index`: index a server folder (inside OUTCROP_SEARCH_ROOTS) into a
collection, created when missing: outcrop's own route, as `outcrop index` does it on the command line.

The images are embedded through `Runtime.invoke` with the embedding model's own Bedrock body, the same path
search queries take, so indexing meets the same limits and errors as InvokeModel and shares the loaded model.
The scan, the hashing and the store's writes run on a worker thread; each embedding call hops back to the loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import BedrockError
from outcrop.protocols.base import INVOKE_MODEL
from outcrop.search.collections import open_collection
from outcrop.search.embedder import DEFAULT_MODEL, Embedder, jpeg_b64
from outcrop.search.indexer import index_folder
from outcrop.search.store import SearchError
from outcrop.server.search_routes import EmbeddingRefused, _error, _stores, inside_roots

router = APIRouter(prefix="/outcrop/v1", tags=["outcrop image search"])


def _one_at_a_time(request: Request) -> asyncio.Lock:
    """One indexing job at a time per server: a second one would only compete for the same model."""
    if not hasattr(request.app.state, "index_lock"):
        request.app.state.index_lock = asyncio.Lock()
    lock: asyncio.Lock = request.app.state.index_lock
    return lock


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str = Field(description="A folder on the server's disk, inside OUTCROP_SEARCH_ROOTS.")
    recursive: bool = Field(False, description="Index sub-folders too.")
    dimension: int = Field(1024, description="Vector length of a new collection (256, 384 or 1024).")


class IndexResponse(BaseModel):
    collection: str
    count: int = Field(description="Images in the collection afterwards.")
    scanned: int
    embedded: int
    unchanged: int
    reused: int = Field(description="Same content already embedded: vector reused.")
    deleted: int = Field(description="Files gone from the folder, removed from the collection.")
    skipped: list[list[str]] = Field(description="[path, reason] for each file that could not be indexed.")
    seconds: float


class RuntimeEmbedder(Embedder):
    """Embeds on the server's runtime from a worker thread (each call awaited on the server's loop)."""

    def __init__(self, request: Request, dimension: int, loop: asyncio.AbstractEventLoop) -> None:
        self.runtime = request.app.state.runtime
        entry = self.runtime.table.resolve(DEFAULT_MODEL)
        self.model_key = f"{entry.model_id}:{entry.weights}"
        self.dimension = dimension
        self.loop = loop

    def _invoke(self, body: dict[str, Any]) -> list[float]:
        body = {**body, "embeddingConfig": {"outputEmbeddingLength": self.dimension}}
        call = self.runtime.invoke(INVOKE_MODEL, DEFAULT_MODEL, json.dumps(body).encode(), request_id="index")
        try:
            reply = asyncio.run_coroutine_threadsafe(call, self.loop).result()
        except BedrockError as exc:
            raise EmbeddingRefused(exc) from None
        return list(json.loads(reply.body)["embedding"])

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        return np.asarray([self._invoke({"inputImage": jpeg_b64(image)}) for image in images], dtype=np.float32)

    def embed_text(self, text: str) -> np.ndarray:
        return np.asarray(self._invoke({"inputText": text}), dtype=np.float32)


@router.post("/collections/{name}/index", response_model=IndexResponse, summary="Index a server folder into a collection",
             responses={403: {"description": "A folder outside the search roots."},
                        409: {"description": "The collection was built with another model or dimension."}})
async def index_collection(name: str, body: IndexRequest, request: Request) -> Any:
    try:
        settings = request.app.state.runtime.settings
        folder = inside_roots(body.folder, settings)
        if not folder.is_dir():
            raise SearchError(f"not a folder: {body.folder}")
        embedder = RuntimeEmbedder(request, body.dimension, asyncio.get_running_loop())
        async with _one_at_a_time(request):
            stores = _stores(request)
            if name not in stores:
                stores[name] = await asyncio.to_thread(
                    open_collection, name, data_dir=settings.data_dir, uri=settings.search_uri or None,
                    model_key=embedder.model_key, dimension=body.dimension)
            store = stores[name]
            report = await asyncio.to_thread(index_folder, store, embedder, Path(folder), recursive=body.recursive,
                                             progress=False)
            count = await asyncio.to_thread(store.count)
        return IndexResponse(collection=name, count=count, scanned=report.scanned, embedded=report.embedded,
                             unchanged=report.unchanged, reused=report.reused, deleted=report.deleted,
                             skipped=[[path, reason] for path, reason in report.skipped], seconds=round(report.seconds, 3))
    except SearchError as exc:
        return _error(exc)
