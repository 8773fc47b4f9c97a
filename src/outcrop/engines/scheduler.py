"""Bounded queue + dynamic micro-batching in front of one model worker thread.

Callers `await submit(item)`. A collector groups compatible queued items (up to `max_batch`,
waiting at most `max_wait_s` for company) and runs them in one call of `run_batch` on the engine's
own thread, so no forward pass ever runs on the event loop. A full queue answers
`ThrottlingException` at once; an item past its deadline `ModelTimeoutException`; an item whose
caller went away (client disconnect) is dropped before it runs, and engines that can stop midway
(diffusion steps, token streams) see its `cancelled` event. An engine whose batch members finish
at different times (token streams of different lengths) hands each result over with `deliver` as
soon as it is ready, instead of holding it until the whole batch returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from outcrop.engines.failures import is_out_of_memory, release_device_memory
from outcrop.errors import ModelTimeoutException, ServiceUnavailableException, ThrottlingException

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

THROTTLED = "Too many requests, please wait before trying again."
TIMED_OUT = "Model has timed out in processing the request. Try your request again."


@dataclass
class Job(Generic[T]):
    item: T
    future: asyncio.Future[Any]
    deadline: float
    cancelled: threading.Event = field(default_factory=threading.Event)


RunBatch = Callable[[Sequence[Job[T]]], Sequence[Any]]


class BatchScheduler(Generic[T, R]):
    def __init__(
        self,
        name: str,
        run_batch: RunBatch[T],
        *,
        max_batch: int = 1,
        max_wait_s: float = 0.0,
        max_queue: int = 64,
        timeout_s: float = 55.0,
        batch_key: Callable[[T], Hashable] | None = None,
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._batch_key = batch_key or (lambda _item: None)
        self._queue: deque[Job[T]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._collector: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"outcrop-{name}")
        self.running = 0
        self.batches_run = 0
        self.items_run = 0
        self.batch_sizes: Counter[int] = Counter()  # batch size -> batches run (for /metrics)

    @property
    def depth(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._collector = asyncio.create_task(self._collect(), name=f"scheduler-{self.name}")

    async def stop(self) -> None:
        if self._collector:
            self._collector.cancel()
            try:
                await self._collector
            except asyncio.CancelledError:
                pass
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(ServiceUnavailableException("The server is shutting down."))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, item: T, timeout_s: float | None = None) -> R:
        if self._wakeup is None:
            raise RuntimeError(f"scheduler {self.name} is not started")
        if len(self._queue) >= self.max_queue:
            raise ThrottlingException(THROTTLED)
        loop = asyncio.get_running_loop()
        budget = self.timeout_s if timeout_s is None else timeout_s
        job: Job[T] = Job(item=item, future=loop.create_future(), deadline=time.monotonic() + budget)
        self._queue.append(job)
        self._wakeup.set()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout=budget)
        except TimeoutError:
            self._abandon(job)
            raise ModelTimeoutException(TIMED_OUT) from None
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    def deliver(self, job: Job[T], result: Any) -> None:
        """From the worker thread, mid-batch: settle one job now (a result, or an exception to raise).
        The batch's own result for that job is then ignored."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._settle, job, result)

    @staticmethod
    def _settle(job: Job[T], result: Any) -> None:
        if job.future.done():
            return
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

    def _abandon(self, job: Job[T]) -> None:
        job.cancelled.set()
        job.future.cancel()  # nobody awaits it any more: its late result or error is dropped, not logged
        try:
            self._queue.remove(job)
        except ValueError:
            pass  # already running: the engine sees `cancelled` and the result is discarded

    async def _collect(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.max_batch > 1 and len(self._queue) < self.max_batch and self.max_wait_s > 0:
                await asyncio.sleep(self.max_wait_s)  # let concurrent callers join this batch
            batch = self._take_batch()
            if not batch:
                continue
            self.running = len(batch)
            try:
                results = await loop.run_in_executor(self._executor, self._run_safely, batch)
            finally:
                self.running = 0
            self.batches_run += 1
            self.items_run += len(batch)
            self.batch_sizes[len(batch)] += 1
            for job, result in zip(batch, results):
                self._settle(job, result)

    def _take_batch(self) -> list[Job[T]]:
        now = time.monotonic()
        batch: list[Job[T]] = []
        key: Hashable = None
        for job in list(self._queue):
            if job.cancelled.is_set() or job.future.done():
                self._queue.remove(job)
                continue
            if job.deadline <= now:
                self._queue.remove(job)
                job.future.set_exception(ModelTimeoutException(TIMED_OUT))
                continue
            job_key = self._batch_key(job.item)
            if not batch:
                key = job_key
            elif job_key != key:
                continue
            self._queue.remove(job)
            batch.append(job)
            if len(batch) >= self.max_batch:
                break
        return batch

    def _run_safely(self, batch: list[Job[T]]) -> Sequence[Any]:
        try:
            results = list(self._run_batch(batch))
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: run_batch returned {len(results)} results for {len(batch)} items")
            return results
        except BaseException as exc:  # one failing batch must not take the worker down
            if is_out_of_memory(exc):
                release_device_memory()
            return [exc] * len(batch)
