"""Loaded engines, one per engine spec, loaded lazily, once, behind a lock.

While weights load, callers wait up to `load_wait_s` (well inside botocore's 60 s read timeout)
and then get `ModelNotReadyException`, which AWS SDKs retry by themselves; a connection never
hangs. Entries that share weights and options share one engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcrop.engines import engine_class
from outcrop.engines.base import Engine
from outcrop.engines.weights import resolve_weights
from outcrop.errors import BedrockError, ModelErrorException, ModelNotReadyException
from outcrop.registry import ModelEntry, ModelTable

logger = logging.getLogger(__name__)


@dataclass
class _Slot:
    entry: ModelEntry
    engine: Engine | None = None
    loading: asyncio.Task[Engine] | None = None
    error: BaseException | None = None
    failed_at: float = 0.0
    load_seconds: float | None = None
    waiters: int = field(default=0)


class EnginePool:
    # A failed load is retried on a later request, but not more often than this.
    RETRY_FAILED_LOAD_AFTER_S = 5.0

    def __init__(self, table: ModelTable, cache_dir: Path, *, load_wait_s: float = 20.0) -> None:
        self.table = table
        self.cache_dir = cache_dir
        self.load_wait_s = load_wait_s
        self._slots: dict[tuple[Any, ...], _Slot] = {}

    def _slot(self, entry: ModelEntry) -> _Slot:
        return self._slots.setdefault(entry.engine_key, _Slot(entry=entry))

    async def get(self, entry: ModelEntry, wait_s: float | None = None) -> Engine:
        """The ready engine for `entry`, starting its load if needed."""
        slot = self._slot(entry)
        if slot.engine is not None:
            return slot.engine
        if slot.loading is None:
            if slot.error is not None and time.monotonic() - slot.failed_at < self.RETRY_FAILED_LOAD_AFTER_S:
                raise _public(slot.error, entry)
            slot.error = None
            slot.loading = asyncio.create_task(self._load(slot), name=f"load-{entry.model_id}")
        wait = self.load_wait_s if wait_s is None else wait_s
        try:
            return await asyncio.wait_for(asyncio.shield(slot.loading), timeout=wait)
        except TimeoutError:
            raise ModelNotReadyException(
                f"Model '{entry.model_id}' is loading its weights and is not ready yet. Try your request again."
            ) from None
        except BedrockError:
            raise
        except Exception as exc:
            raise _public(exc, entry) from exc

    async def _load(self, slot: _Slot) -> Engine:
        entry = slot.entry
        started = time.monotonic()
        try:
            weights_dir = await asyncio.to_thread(resolve_weights, entry, self.cache_dir, self.table.profile)
            engine = engine_class(entry.engine)(entry, weights_dir)
            await asyncio.to_thread(engine.load)
            await engine.start()
        except BaseException as exc:
            slot.error, slot.failed_at, slot.loading = exc, time.monotonic(), None
            if not isinstance(exc, BedrockError):
                logger.exception("loading %s (%s) failed", entry.model_id, entry.weights)
            raise
        slot.engine, slot.loading = engine, None
        slot.load_seconds = time.monotonic() - started
        logger.info("%s loaded in %.1f s", entry.model_id, slot.load_seconds)
        return engine

    async def preload(self) -> None:
        """Load every engine of the table now (`--preload`), one after another."""
        seen: set[tuple[Any, ...]] = set()
        for entry in self.table:
            if entry.engine_key in seen:
                continue
            seen.add(entry.engine_key)
            await self.get(entry, wait_s=24 * 3600)

    async def stop(self) -> None:
        for slot in self._slots.values():
            if slot.loading is not None:
                slot.loading.cancel()
            if slot.engine is not None:
                await slot.engine.stop()

    def loaded(self) -> list[tuple[str, Engine]]:
        """(model id, engine) of every engine that is loaded now."""
        return [(slot.entry.model_id, slot.engine) for slot in self._slots.values() if slot.engine is not None]

    def status(self) -> list[dict[str, Any]]:
        rows = []
        for slot in self._slots.values():
            state = "ready" if slot.engine else "loading" if slot.loading else "failed" if slot.error else "idle"
            rows.append({"model": slot.entry.model_id, "state": state, "load_seconds": slot.load_seconds})
        return rows


def _public(exc: BaseException, entry: ModelEntry) -> BedrockError:
    if isinstance(exc, BedrockError):
        return exc
    return ModelErrorException(
        f"Model '{entry.model_id}' could not be loaded. The server log has the details.",
        originalStatusCode=500,
        resourceName=entry.model_id,
    )
