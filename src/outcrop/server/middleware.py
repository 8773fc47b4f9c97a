"""Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streams and hide disconnects)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outcrop.server.operations import raw_path_of


class RawPathRouting:
    """Route on the raw path, as Bedrock does: botocore sends an ARN model id as one segment with
    `/` encoded as `%2F`, which a decoded path would split. Handlers percent-decode their params."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            scope = {**scope, "path": raw_path_of(scope)}
        await self.app(scope, receive, send)


class RequestId:
    """Every response carries `x-amzn-RequestId` (botocore puts it in ResponseMetadata)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-amzn-requestid"]
                headers.append((b"x-amzn-requestid", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
