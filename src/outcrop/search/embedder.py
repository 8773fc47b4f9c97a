"""Turn images and texts into vectors: in-process through this repo's Titan embeddings engine, or
through any Bedrock-compatible endpoint with boto3 `invoke_model` on amazon.titan-embed-image-v1."""

from __future__ import annotations

import asyncio
import base64
import io
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from outcrop.search.store import SearchError, normalize

DEFAULT_MODEL = "amazon.titan-embed-image-v1"
DIMENSIONS = (256, 384, 1024)


class Embedder(ABC):
    """`model_key` names the vector space (model id and weights), stored with the collection."""

    model_key: str
    dimension: int

    @abstractmethod
    def embed_images(self, images: list[Image.Image]) -> np.ndarray: ...

    @abstractmethod
    def embed_text(self, text: str) -> np.ndarray: ...

    def close(self) -> None:
        pass

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessEmbedder(Embedder):
    """The server's own engine (registry → EmbeddingEngine and its micro-batcher), on a private loop."""

    def __init__(self, settings: Any, model_id: str = DEFAULT_MODEL, dimension: int = 1024) -> None:
        from outcrop.runtime import Runtime

        self.runtime = Runtime.build(settings)
        self.entry = self.runtime.table.resolve(model_id)
        self.model_key = f"{self.entry.model_id}:{self.entry.weights}"
        self.dimension = dimension
        self._loop = asyncio.new_event_loop()
        self._engine: Any = None

    def _get_engine(self) -> Any:
        if self._engine is None:
            self._engine = self._loop.run_until_complete(self.runtime.pool.get(self.entry, wait_s=24 * 3600))
        return self._engine

    def _run(self, tasks: list[Any]) -> np.ndarray:
        from outcrop.errors import BedrockError
        from outcrop.protocols.titan_embed_image import checked_tokens

        engine = self._get_engine()

        async def go() -> list[Any]:
            return await asyncio.gather(*(engine.embed(t) for t in tasks))

        try:
            for task in tasks:
                checked_tokens(engine, task)
            results = self._loop.run_until_complete(go())
        except BedrockError as exc:
            raise SearchError(f"embedding failed: {exc.code}: {exc.message}") from None
        return normalize(np.asarray([r.vector for r in results], dtype=np.float32))

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        from outcrop.tasks.embedding import EmbedTask

        return self._run([EmbedTask(image=im, dimensions=self.dimension) for im in images])

    def embed_text(self, text: str) -> np.ndarray:
        from outcrop.tasks.embedding import EmbedTask

        return self._run([EmbedTask(text=text, dimensions=self.dimension)])[0]

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self.runtime.pool.stop())
            self._loop.close()


class EndpointEmbedder(Embedder):
    """The SDK's `embed_image`/`embed_text` against outcrop or real Bedrock (botocore's standard
    retries); a small thread pool overlaps requests."""

    def __init__(self, endpoint: str | None, model_id: str = DEFAULT_MODEL, dimension: int = 1024, workers: int = 8) -> None:
        from outcrop.sdk import MultimodalAssistant

        self.assistant = MultimodalAssistant(endpoint_url=endpoint, max_attempts=5)
        self.client = self.assistant.client
        self.model_id = model_id
        self.model_key = model_id
        self.dimension = dimension
        self._pool = ThreadPoolExecutor(workers)

    def _embed(self, text: str | None = None, image: bytes | None = None) -> list[float]:
        from botocore.exceptions import BotoCoreError

        from outcrop.sdk import AssistantError

        try:
            if image is not None:
                return self.assistant.embed_image(image, dimensions=self.dimension, model=self.model_id).vector
            return self.assistant.embed_text(text or "", dimensions=self.dimension, model=self.model_id).vector
        except (AssistantError, BotoCoreError) as exc:
            raise SearchError(f"embedding endpoint failed: {exc}") from None

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        jpegs = [jpeg_bytes(im) for im in images]
        return normalize(np.asarray(list(self._pool.map(lambda data: self._embed(image=data), jpegs)), dtype=np.float32))

    def embed_text(self, text: str) -> np.ndarray:
        return normalize(np.asarray(self._embed(text=text), dtype=np.float32))

    def close(self) -> None:
        self._pool.shutdown()


def jpeg_bytes(image: Image.Image) -> bytes:
    """Bedrock takes ≤ 5 MB and ≤ 2048 px a side; a 1024 px JPEG is well inside both."""
    image = image.convert("RGB")
    image.thumbnail((1024, 1024))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def jpeg_b64(image: Image.Image) -> str:
    return base64.b64encode(jpeg_bytes(image)).decode()


def make_embedder(*, endpoint: str | None, model_id: str, dimension: int, settings: Any = None) -> Embedder:
    if dimension not in DIMENSIONS:
        raise SearchError(f"dimension must be one of {', '.join(map(str, DIMENSIONS))}, not {dimension}")
    if endpoint:
        return EndpointEmbedder(endpoint, model_id, dimension)
    if settings is None:
        from outcrop.config import Settings

        settings = Settings.from_env()
    return InProcessEmbedder(settings, model_id, dimension)
