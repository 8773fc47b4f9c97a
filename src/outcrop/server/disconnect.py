"""Cancel a request's work when its client goes away.

Starlette never cancels a handler whose client disconnected while it waits for the model, so the
request would hold its queue slot until the model answered no one. Once the body has been read,
this middleware listens for `http.disconnect`; if it comes before the response is complete, the
handler task is cancelled, which drops its job from the scheduler queue (or flags a running one).
A client that is connected but reads nothing (one response write blocked for `stalled_send_timeout_s`:
an HTTP/2 window held at 0, a full TCP buffer) is treated the same way.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp, stalled_send_timeout_s: float = 60.0) -> None:
        self.app = app
        self.stalled_send_timeout_s = stalled_send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = asyncio.Event()
        disconnected = asyncio.Event()
        response_done = False

        async def app_receive() -> Message:
            if disconnected.is_set():
                return {"type": "http.disconnect"}
            if not body_done.is_set():
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                elif not message.get("more_body", False):
                    body_done.set()
                return message
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def app_send(message: Message) -> None:
            nonlocal response_done
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_done = True
            try:
                await asyncio.wait_for(send(message), self.stalled_send_timeout_s)
            except TimeoutError:
                logger.info("client of request %s read nothing for %.0f s; cancelling its work",
                            scope.get("state", {}).get("request_id"), self.stalled_send_timeout_s)
                disconnected.set()
                # As for a disconnect. The cancellation lands at the handler's next await, inside the
                # body generator that waits for the model, whose cleanup drops the job; raising here
                # instead would leave that generator suspended and its job running.
                task.cancel()

        task = asyncio.ensure_future(self.app(scope, app_receive, app_send))

        async def watch() -> None:
            await body_done.wait()
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    if not response_done and not task.done():
                        logger.info("client of request %s went away; cancelling its work", scope.get("state", {}).get("request_id"))
                        task.cancel()
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if disconnected.is_set() and current is not None and current.cancelling() == 0:
                return  # we cancelled the handler ourselves: nobody is left to answer
            raise
        finally:
            watcher.cancel()


class DrainRequestBody:
    """Read what is left of a request body before answering without having read it.

    A handler that refuses a request early (bad model id, auth failure, unsupported operation)
    answers before reading the body. Hypercorn then sees a request that is not finished when the
    response is, and closes the keep-alive connection without `Connection: close`; a client that
    already sent its next request on that connection gets "server disconnected". Draining (up to
    `limit` bytes; past that, closing is the right answer) keeps the connection reusable.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        finished = False

        async def tracking_receive() -> Message:
            nonlocal finished
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                finished = True
            return message

        async def draining_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start" and not finished:
                drained = 0
                while not finished and drained <= self.limit:
                    rest = await receive()
                    drained += len(rest.get("body", b""))
                    finished = rest["type"] == "http.disconnect" or not rest.get("more_body", False)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)
