"""Join an SDK's retries of one call, so abandoned work is never run twice.

botocore's default read timeout is 60 s and it retries read timeouts, throttling and 5xx answers
(legacy mode: up to 5 attempts; standard: 3). A generation that outlives the client's timeout is
therefore sent again while the first attempt may still be running, or has just finished for no
one: without care the server runs the same work two to five times, each attempt queued behind the
last.

Every attempt of one SDK call carries the same `amz-sdk-invocation-id` header (botocore
`endpoint.py` makes one UUID per call in `_update_retries_context`; `handlers.add_retry_headers`
sends it, with `amz-sdk-request: attempt=N; max=M`, on every attempt). `RetryJoiner` keys a request
by (invocation id, caller, operation, model id, Accept, sha256 of the body):

- a request whose key is running awaits the same result instead of starting new work;
- a result that finished in the last `keep_s` seconds is handed to a retry at once (bounded by
  entry count and bytes; only successes are kept: a failed attempt's retry runs anew);
- the shared work runs in its own task, shielded from any one waiter's cancellation. When its last
  waiter goes (client disconnect, see `disconnect.py`) it keeps running for `grace_s` seconds, long
  enough for the SDK's retry backoff to bring the next attempt; if none comes it is cancelled, so
  the engine stops it (`job.cancelled`, the diffusion step callback) as before.

Requests without the header (curl, other clients) are never joined. Only non-streaming operations
(InvokeModel, Converse) are joined: a stream's events cannot be replayed to a second reader.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

INVOCATION_HEADER = "amz-sdk-invocation-id"


def retry_key(headers: Mapping[str, str], *, caller: str | None, operation: str, model_id: str,
              accept: str | None, body: bytes) -> Hashable | None:
    """The join key of a request, or None when its client sends no invocation id."""
    invocation = headers.get(INVOCATION_HEADER)
    if not invocation or len(invocation) > 200:
        return None
    return (invocation, caller, operation, model_id, accept, hashlib.sha256(body).hexdigest())


@dataclass
class _Running:
    task: asyncio.Task[Any]
    waiters: int = 0
    reaper: asyncio.TimerHandle | None = None


@dataclass
class _Done:
    result: Any
    size: int
    at: float = field(default_factory=time.monotonic)


class RetryJoiner:
    def __init__(self, *, keep_s: float = 120.0, grace_s: float = 10.0, max_entries: int = 64,
                 max_bytes: int = 256 * 1024 * 1024, size_of: Callable[[Any], int] | None = None) -> None:
        self.keep_s = keep_s
        self.grace_s = grace_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size_of = size_of or (lambda result: len(getattr(result, "body", b"")))
        self._running: dict[Hashable, _Running] = {}
        self._done: OrderedDict[Hashable, _Done] = OrderedDict()
        self._bytes = 0
        self.joined = 0  # attempts answered by work already running
        self.replayed = 0  # attempts answered from a finished result
        self.abandoned = 0  # shared works cancelled because no attempt came back

    async def run(self, key: Hashable | None, work: Callable[[], Awaitable[Any]]) -> Any:
        """`await work()`, shared with every other attempt of the same key."""
        if key is None:
            return await work()
        self._expire()
        if (done := self._done.get(key)) is not None:
            self.replayed += 1
            logger.info("retry of a finished request answered from its result (invocation %s)", key[0])  # type: ignore[index]
            return done.result
        running = self._running.get(key)
        if running is None:
            task = asyncio.ensure_future(work())
            running = self._running[key] = _Running(task)
            task.add_done_callback(functools.partial(self._finished, key, running))
        else:
            self.joined += 1
            logger.info("retry joined the request still running (invocation %s)", key[0])  # type: ignore[index]
        running.waiters += 1
        if running.reaper is not None:
            running.reaper.cancel()
            running.reaper = None
        try:
            return await asyncio.shield(running.task)
        finally:
            running.waiters -= 1
            if running.waiters == 0 and not running.task.done():
                loop = asyncio.get_running_loop()
                running.reaper = loop.call_later(self.grace_s, self._reap, key, running)

    def _reap(self, key: Hashable, running: _Running) -> None:
        """No attempt came back within the grace period: stop the work (the engine sees the cancel)."""
        if running.waiters == 0 and not running.task.done():
            if self._running.get(key) is running:
                del self._running[key]  # a later attempt starts afresh rather than joining a cancelled task
            self.abandoned += 1
            logger.info("no retry came for abandoned work (invocation %s); cancelling it", key[0])  # type: ignore[index]
            running.task.cancel()

    def _finished(self, key: Hashable, running: _Running, task: asyncio.Task[Any]) -> None:
        if self._running.get(key) is running:
            del self._running[key]
        if running.reaper is not None:
            running.reaper.cancel()
        if task.cancelled():
            return
        if task.exception() is not None:  # retrieved here, so an error no one awaits is not logged as lost
            return
        result = task.result()
        size = self._size_of(result)
        if size > self.max_bytes:
            return
        self._done[key] = _Done(result, size)
        self._bytes += size
        while len(self._done) > self.max_entries or self._bytes > self.max_bytes:
            self._drop_oldest()

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.keep_s
        while self._done and next(iter(self._done.values())).at < cutoff:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, done = self._done.popitem(last=False)
        self._bytes -= done.size

    @property
    def running(self) -> int:
        return len(self._running)
