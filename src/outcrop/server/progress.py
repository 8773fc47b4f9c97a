"""Per-step progress of an image job, for a client that follows it: outcrop's own route, not a Bedrock one.

Bedrock has no progress channel, so InvokeModel bodies stay as they are. A client picks a random id, opens
`GET /outcrop/v1/progress/{id}` (Server-Sent Events: `ready`, one `step` per denoising step, `done`; a
failed attempt is a `failed` event and the stream stays open for the SDK's retry), then
sends its InvokeModel with the header `X-Outcrop-Progress-Id: {id}`. The engine reports steps through the
task's neutral `progress` callback on its worker thread; the hub hands them to the event loop. Ids are
scoped to the caller (the authenticated principal), so one client cannot follow another's jobs.

Cancelling is the ordinary path: the client drops its InvokeModel connection, CancelOnDisconnect cancels
the handler, the scheduler flags the job and the engine's step callback stops it at the next step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response, StreamingResponse

from outcrop.errors import BedrockError, ValidationException

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/outcrop/v1", tags=["outcrop progress"])
HEADER = "x-outcrop-progress-id"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KEEPALIVE_S = 15.0
MAX_FOLLOW_S = 15 * 60.0  # a stream nobody's job ever uses ends after this
Key = tuple[str | None, str]
Event = tuple[str, dict[str, Any]]


class ProgressHub:
    """The open progress streams, keyed by (caller, id); events cross from engine threads via the loop."""

    def __init__(self) -> None:
        self._streams: dict[Key, asyncio.Queue[Event]] = {}

    def subscribe(self, key: Key) -> asyncio.Queue[Event] | None:
        """A new stream's queue, or None when that id is already followed."""
        if key in self._streams:
            return None
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1024)
        self._streams[key] = queue
        return queue

    def unsubscribe(self, key: Key, queue: asyncio.Queue[Event]) -> None:
        if self._streams.get(key) is queue:
            del self._streams[key]

    def publish(self, key: Key, event: Event) -> None:
        """On the event loop; an event for an id nobody follows (yet, or any more) is dropped."""
        queue = self._streams.get(key)
        if queue is not None and not queue.full():
            queue.put_nowait(event)

    def reporter(self, key: Key) -> Callable[[int, int], None]:
        """The task's progress callback: safe to call from any thread, never raises into the engine."""
        loop = asyncio.get_running_loop()

        def report(step: int, steps: int) -> None:
            try:
                loop.call_soon_threadsafe(self.publish, key, ("step", {"step": step, "steps": steps}))
            except RuntimeError:  # the loop is closing: nobody is left to tell
                pass

        return report


def progress_id(request: Request) -> str | None:
    """The request's X-Outcrop-Progress-Id, checked; None when it has none."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not ID_PATTERN.match(value):
        raise ValidationException("X-Outcrop-Progress-Id must be 8 to 64 letters, digits, '-' or '_'.")
    return value


def _caller(request: Request) -> str | None:
    principal = request.scope.get("state", {}).get("principal")
    return None if principal is None else str(principal)


@asynccontextmanager
async def followed(request: Request) -> AsyncIterator[Callable[[int, int], None] | None]:
    """The progress callback for this request's job (None without the header); `done` goes out at the end."""
    value = progress_id(request)
    if value is None:
        yield None
        return
    hub: ProgressHub = request.app.state.progress
    key = (_caller(request), value)
    try:
        yield hub.reporter(key)
    except BedrockError as exc:
        # The stream stays open: an SDK retries ModelNotReady or Throttling with the same header.
        hub.publish(key, ("failed", {"error": exc.code, "message": exc.message}))
        raise
    except BaseException:
        hub.publish(key, ("failed", {"error": "InternalServerException", "message": "The request failed."}))
        raise
    hub.publish(key, ("done", {}))


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


@router.get("/progress/{progressId}", summary="Follow an image job's denoising steps (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`ready`, then `step` {step, steps} per denoising step of the InvokeModel sent "
                             "with `X-Outcrop-Progress-Id`, then `done`; `failed` {error, message} per failed attempt (the stream "
                             "stays open for a retry); an id already followed gets one `error`."},
                       400: {"description": "A malformed id."}})
async def follow_progress(progressId: str, request: Request) -> Response:
    if not ID_PATTERN.match(progressId):
        return JSONResponse({"error": "ValidationError", "message": "progress ids are 8 to 64 letters, digits, '-' or '_'"},
                            status_code=400)
    hub: ProgressHub = request.app.state.progress
    key = (_caller(request), progressId)

    async def events() -> AsyncIterator[bytes]:
        # Subscribed inside the body, so the finally below always runs; clients send their InvokeModel
        # once `ready` has arrived.
        queue = hub.subscribe(key)
        if queue is None:
            yield _frame("error", {"message": f"progress id {progressId} is already followed"})
            return
        try:
            yield _frame("ready", {"id": progressId})
            deadline = asyncio.get_running_loop().time() + MAX_FOLLOW_S
            while asyncio.get_running_loop().time() < deadline:
                try:
                    event, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield _frame(event, data)
                if event == "done":
                    return
        finally:
            hub.unsubscribe(key, queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
