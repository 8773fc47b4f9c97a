"""Cross-origin requests: refused unless their origin is configured (`--cors-origin`).

A browser page on another origin can still *send* a simple POST (text/plain) even when it cannot
read the answer, so a refused origin gets a 403 before any model runs, not just missing headers.
Configured origins get Starlette's CORS handling (preflight included)."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from outcrop.errors import AccessDeniedException
from outcrop.server.errors import error_response

EXPOSED = ["x-amzn-RequestId", "x-amzn-ErrorType", "X-Amzn-Bedrock-Invocation-Latency",
           "X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count", "X-Amzn-Bedrock-Content-Type"]


class RefuseForeignOrigins:
    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.origins = frozenset(origins)
        self.app: ASGIApp = (
            CORSMiddleware(app, allow_origins=list(origins), allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=EXPOSED, max_age=600)
            if origins else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"origin"), None)
            if origin is not None and "*" not in self.origins and origin not in self.origins:
                error = AccessDeniedException(
                    f"Cross-origin requests from {origin[:200]} are not allowed. Start the server with "
                    f"--cors-origin {origin[:200]} to allow them."
                )
                await error_response(error, scope.get("state", {}).get("request_id"))(scope, receive, send)
                return
        await self.app(scope, receive, send)
