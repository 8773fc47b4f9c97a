"""The profile's engines as the synchronous helpers some detectors want: the image-text embedder of the
zero-shot image detector (image_categories.py) and the chat model of the guard judge (judge.py).

Guardrail evaluation runs on a worker thread (service.py); an engine's batcher lives on the server's
event loop, so each call is submitted to that loop and the worker waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import numpy as np

from outcrop.guardrails.image_categories import decode_rgb
from outcrop.tasks.chat import ChatTask, ChatTurn, ImagePart, Part, TextPart
from outcrop.tasks.embedding import EmbedTask

T = TypeVar("T")
# The longest a guardrail waits for a helper engine (loading included) before the request fails.
WAIT_S = 600.0


class _LoopBound:
    def __init__(self, engine: Callable[[], Awaitable[Any]]) -> None:
        self.engine = engine
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the engine serves on (the server's); set before the first evaluation."""
        self.loop = loop

    def _wait(self, work: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None, "bind() first"
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(WAIT_S)


class EngineEmbedder(_LoopBound):
    """`ImageTextEmbedder` over the Titan multimodal embeddings engine: unit vectors, native size."""

    def _embed(self, tasks: list[EmbedTask]) -> np.ndarray:
        async def run() -> list[list[float]]:
            engine = await self.engine()
            results = await asyncio.gather(*(engine.embed(EmbedTask(text=t.text, image=t.image, dimensions=engine.native_dim))
                                             for t in tasks))
            return [r.vector for r in results]

        vectors = np.asarray(self._wait(run()), dtype=np.float32)
        unit: np.ndarray = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return unit

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([EmbedTask(text=t) for t in texts])

    def images(self, images: Sequence[bytes]) -> np.ndarray:
        return self._embed([EmbedTask(image=decode_rgb(i)) for i in images])


class EngineChat(_LoopBound):
    """A chat engine answering short prompts (greedy, a few tokens), all of one call concurrently."""

    def __init__(self, engine: Callable[[], Awaitable[Any]], max_tokens: int = 4) -> None:
        super().__init__(engine)
        self.max_tokens = max_tokens

    def answers(self, prompts: Sequence[str], image: bytes | None = None) -> list[str]:
        shown: tuple[Part, ...] = (ImagePart(decode_rgb(image)),) if image is not None else ()

        async def run() -> list[str]:
            engine = await self.engine()
            tasks = [ChatTask(turns=(ChatTurn("user", (*shown, TextPart(p))),), max_tokens=self.max_tokens,
                              temperature=0.0) for p in prompts]
            return [r.text for r in await asyncio.gather(*(engine.generate(t) for t in tasks))]

        return self._wait(run())
