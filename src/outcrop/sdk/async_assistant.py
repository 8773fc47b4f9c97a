"""`AsyncMultimodalAssistant`: every `MultimodalAssistant` method as a coroutine, for asyncio code.

Why a bounded thread pool over the sync class and not aiobotocore: no aiobotocore release supports
the botocore this project pins (aiobotocore 3.10.0, the newest, needs botocore >=1.43.115,<1.43.118;
the client matrix pins boto3/botocore 1.44.8), and aiobotocore patches botocore's internals for one
exact botocore range, so it cannot be installed beside ours. Bedrock calls spend their time waiting
on the network or the model, and botocore releases the GIL while it waits, so N threads give N calls
in flight; the event loop never blocks. Every body, every parser, the retries (botocore's and the
SDK's ModelTimeout ones), the exceptions and the usage tally are the sync class's own: this module
only moves calls off the loop. The client's connection pool is sized to the concurrency, so 16
calls in flight use 16 kept-alive connections rather than botocore's default 10.

A cancelled `await` returns at once, but the call already sent finishes in its thread (its usage
is still counted); a stream left early is closed, which on outcrop cancels the generation.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import boto3
from botocore.config import Config

from outcrop.sdk.assistant import MultimodalAssistant, RetryMode, TextStream
from outcrop.sdk.chat_bodies import ChatApi
from outcrop.sdk.models import ModelDefaults
from outcrop.sdk.pricing import Price, UsageTally
from outcrop.sdk.results import TextResult, Usage

P = ParamSpec("P")
R = TypeVar("R")
_END = object()


def _offloaded(method: Callable[Concatenate[MultimodalAssistant, P], R]
               ) -> Callable[Concatenate[AsyncMultimodalAssistant, P], Coroutine[Any, Any, R]]:
    """The sync method as a coroutine run on the assistant's pool, with the same signature and docstring."""

    @functools.wraps(method)
    async def run(self: AsyncMultimodalAssistant, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._run(functools.partial(method, self.sync, *args, **kwargs))

    return run


def _streamed(method: Callable[Concatenate[MultimodalAssistant, P], TextStream]
              ) -> Callable[Concatenate[AsyncMultimodalAssistant, P], AsyncTextStream]:
    """The sync streaming method as one returning an `AsyncTextStream`, with the same signature."""

    @functools.wraps(method)
    def run(self: AsyncMultimodalAssistant, /, *args: P.args, **kwargs: P.kwargs) -> AsyncTextStream:
        return AsyncTextStream(self, functools.partial(method, self.sync, *args, **kwargs))

    return run


class AsyncTextStream:
    """`ask_stream` for asyncio: `async for piece in stream` yields text as it arrives; the request
    is sent when iteration starts. Afterwards `text`, `usage`, `stop_reason` and `result` describe
    the whole answer, as on `TextStream`. Leaving the loop early, `aclose()` or the end of an
    `async with` block closes the connection."""

    def __init__(self, owner: AsyncMultimodalAssistant, open_stream: Callable[[], TextStream]) -> None:
        self._owner = owner
        self._open = open_stream
        self._stream: TextStream | None = None
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[str]:
        if self._stream is not None or self._closed:
            raise RuntimeError("a stream is read once")
        self._stream = stream = await self._owner._run(self._open)
        pieces = iter(stream)
        try:
            while True:
                piece = await self._owner._run(functools.partial(next, pieces, _END))
                if piece is _END:
                    return
                yield cast(str, piece)
        finally:
            stream.close()

    @property
    def text(self) -> str:
        return self._stream.text if self._stream is not None else ""

    @property
    def usage(self) -> Usage:
        return self._stream.usage if self._stream is not None else Usage()

    @property
    def stop_reason(self) -> str | None:
        return self._stream.stop_reason if self._stream is not None else None

    @property
    def result(self) -> TextResult | None:
        return self._stream.result if self._stream is not None else None

    async def aclose(self) -> None:
        """Stop reading; idempotent."""
        self._closed = True
        if self._stream is not None:
            self._stream.close()

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class AsyncMultimodalAssistant:
    """`MultimodalAssistant` for asyncio: the same methods, arguments and typed results, as
    coroutines; `ask_stream` gives an async iterator. At most `max_concurrency` calls run at once
    (more wait their turn). Use `async with`, or `await aclose()`, to release the threads."""

    def __init__(self, *, assistant: MultimodalAssistant | None = None, max_concurrency: int = 16, client: Any = None,
                 session: boto3.Session | None = None, region: str | None = None, endpoint_url: str | None = None,
                 models: ModelDefaults | Mapping[str, str] | None = None, prices: Mapping[str, Price] | None = None,
                 retry_mode: RetryMode = "standard", max_attempts: int = 5, read_timeout: float | None = None,
                 config: Config | None = None, model_timeout_retries: int = 2, backoff_base_s: float = 1.0,
                 chat_api: ChatApi = "converse") -> None:
        """The arguments of `MultimodalAssistant`, or `assistant=` to wrap one you built (it is used
        as is, its client included). `max_concurrency` bounds the calls in flight; a client the SDK
        builds gets a connection pool that large."""
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if assistant is None:
            if client is None:
                pool = Config(max_pool_connections=max(10, max_concurrency))
                config = pool.merge(config) if config is not None else pool
            assistant = MultimodalAssistant(
                client=client, session=session, region=region, endpoint_url=endpoint_url, models=models, prices=prices,
                retry_mode=retry_mode, max_attempts=max_attempts, read_timeout=read_timeout,
                config=config if client is None else None, model_timeout_retries=model_timeout_retries,
                backoff_base_s=backoff_base_s, chat_api=chat_api)
        self.sync = assistant
        self.max_concurrency = max_concurrency
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="outcrop-sdk")

    async def _run(self, call: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    # -- the sync assistant's state, shared -----------------------------------------------------------
    @property
    def client(self) -> Any:
        return self.sync.client

    @property
    def models(self) -> ModelDefaults:
        return self.sync.models

    @property
    def usage(self) -> UsageTally:
        return self.sync.usage

    @property
    def endpoint_url(self) -> str:
        return self.sync.endpoint_url

    # -- every method, offloaded -------------------------------------------------------------------------
    generate_image = _offloaded(MultimodalAssistant.generate_image)
    generate_images = _offloaded(MultimodalAssistant.generate_images)
    vary_image = _offloaded(MultimodalAssistant.vary_image)
    inpaint = _offloaded(MultimodalAssistant.inpaint)
    outpaint = _offloaded(MultimodalAssistant.outpaint)
    remove_background = _offloaded(MultimodalAssistant.remove_background)
    ask = _offloaded(MultimodalAssistant.ask)
    describe = _offloaded(MultimodalAssistant.describe)
    analyze_image = _offloaded(MultimodalAssistant.analyze_image)
    compare_images = _offloaded(MultimodalAssistant.compare_images)
    extract = _offloaded(MultimodalAssistant.extract)
    embed_text = _offloaded(MultimodalAssistant.embed_text)
    embed_image = _offloaded(MultimodalAssistant.embed_image)
    check = _offloaded(MultimodalAssistant.check)
    search_images = _offloaded(MultimodalAssistant.search_images)

    # `async for piece in assistant.ask_stream(...)`: no await; the request goes out when iteration starts.
    ask_stream = _streamed(MultimodalAssistant.ask_stream)

    # -- lifetime ------------------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Wait for calls in flight, then release the threads; idempotent."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)

    async def __aenter__(self) -> AsyncMultimodalAssistant:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
