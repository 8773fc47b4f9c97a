"""Per-key token buckets: a key over its rate gets ThrottlingException (429), which SDKs retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from outcrop.errors import ThrottlingException

THROTTLED = "Too many requests, please wait before trying again."


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def check(self, name: str, rate: float | None, burst: float | None) -> None:
        """Take one token from `name`'s bucket or raise ThrottlingException; no rate means unlimited."""
        if rate is None:
            return
        capacity = max(1.0, burst if burst is not None else rate)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = TokenBucket(rate=rate, capacity=capacity, tokens=capacity, updated=now)
            if not bucket.take(now):
                raise ThrottlingException(THROTTLED)


class ConcurrencyLimiter:
    """Per-key caps on requests in flight: one over the cap is refused at once (never queued), so a
    key cannot hold more than its share of the model queues. The caller releases its slot when the
    response is finished or the client has gone."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, limit: int | None) -> bool:
        """Take a slot of `name` or raise ThrottlingException; False when the key has no cap (nothing to release)."""
        if limit is None:
            return False
        with self._lock:
            current = self._in_flight.get(name, 0)
            if current >= limit:
                raise ThrottlingException(
                    f"Too many concurrent requests for this key (at most {limit} at once), please wait before trying again."
                )
            self._in_flight[name] = current + 1
        return True

    def release(self, name: str) -> None:
        with self._lock:
            left = self._in_flight.get(name, 0) - 1
            if left > 0:
                self._in_flight[name] = left
            else:
                self._in_flight.pop(name, None)

    def in_flight(self, name: str) -> int:
        return self._in_flight.get(name, 0)
