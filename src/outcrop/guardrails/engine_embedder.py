"""The profile's image-text embedding engine as the synchronous `ImageTextEmbedder` the zero-shot image
detector wants. Guardrail evaluation runs on a worker thread (service.py); the engine's batcher lives on
the server's event loop, so each call is submitted to that loop and the worker waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from outcrop.guardrails.image_categories import decode_rgb
from outcrop.tasks.embedding import EmbedTask

# The longest a guardrail waits for the embedding engine (loading included) before the request fails.
WAIT_S = 600.0


class EngineEmbedder:
    def __init__(self, engine: Callable[[], Awaitable[Any]]) -> None:
        self.engine = engine
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the engine serves on (the server's); set before the first evaluation."""
        self.loop = loop

    def _embed(self, tasks: list[EmbedTask]) -> np.ndarray:
        async def run() -> list[list[float]]:
            engine = await self.engine()
            results = await asyncio.gather(*(engine.embed(EmbedTask(text=t.text, image=t.image, dimensions=engine.native_dim))
                                             for t in tasks))
            return [r.vector for r in results]

        assert self.loop is not None, "EngineEmbedder.bind() first"
        vectors = np.asarray(asyncio.run_coroutine_threadsafe(run(), self.loop).result(WAIT_S), dtype=np.float32)
        unit: np.ndarray = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return unit

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([EmbedTask(text=t) for t in texts])

    def images(self, images: Sequence[bytes]) -> np.ndarray:
        return self._embed([EmbedTask(image=decode_rgb(i)) for i in images])  # type: ignore[arg-type]
