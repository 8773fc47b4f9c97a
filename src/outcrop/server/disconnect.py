"""Cancel a request's work when its client goes away.

Starlette never cancels a handler whose client disconnected while it waits for the model, so the
request would hold its queue slot until the model answered no one. Once the body has been read,
this middleware listens for `http.disconnect`; if it comes before the response is complete, the
handler task is cancelled, which drops its job from the scheduler queue (or flags a running one).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            await send(message)

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
