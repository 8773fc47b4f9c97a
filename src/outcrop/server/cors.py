"""Cross-origin requests: refused unless their origin is configured (`--cors-origin`).

A browser page on another origin can still *send* a simple POST (text/plain) even when it cannot
read the answer, so a refused origin gets a 403 before any model runs, not just missing headers.
Configured origins get Starlette's CORS handling (preflight included).

The server's own page (the playground at `/`) is same-origin: Chromium and Firefox put `Origin` on
its POSTs too, equal to `scheme://Host`. That is allowed only where the Host header can be trusted:
a loopback name or address, the address the server is bound to, or any host once keys are configured
(the page then sends a bearer key that a foreign page cannot read, so a DNS-rebinding page that makes
its origin "equal" has nothing to send). A state-changing browser request with no `Origin` but a
`Sec-Fetch-Site` of `cross-site` or `same-site` is refused too. Clients that are not browsers
(boto3, the JavaScript SDK in Node, curl) send neither header and are not affected."""

from __future__ import annotations

import ipaddress

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from outcrop.errors import AccessDeniedException
from outcrop.server.errors import error_response

EXPOSED = ["x-amzn-RequestId", "x-amzn-ErrorType", "X-Amzn-Bedrock-Invocation-Latency",
           "X-Amzn-Bedrock-Input-Token-Count", "X-Amzn-Bedrock-Output-Token-Count", "X-Amzn-Bedrock-Content-Type"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RefuseForeignOrigins:
    def __init__(self, app: ASGIApp, origins: tuple[str, ...], bind_host: str = "127.0.0.1", keys: bool = False) -> None:
        self.origins = frozenset(origins)
        self.bind_host = bind_host.strip("[]").lower()
        self.keys = keys
        self.app: ASGIApp = (
            CORSMiddleware(app, allow_origins=list(origins), allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=EXPOSED, max_age=600)
            if origins else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            refusal: str | None = None
            if origin is not None and "*" not in self.origins and origin not in self.origins and not self._own(scope, origin, headers):
                refusal = (f"Cross-origin requests from {origin[:200]} are not allowed. Start the server with "
                           f"--cors-origin {origin[:200]} to allow them.")
            elif (origin is None and scope["method"] not in SAFE_METHODS
                  and headers.get("sec-fetch-site") in ("cross-site", "same-site") and "*" not in self.origins):
                refusal = "Cross-site browser requests are not allowed."
            if refusal is not None:
                await error_response(AccessDeniedException(refusal), scope.get("state", {}).get("request_id"))(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _own(self, scope: Scope, origin: str, headers: dict[str, str]) -> bool:
        """The request comes from a page this server served, at a host name it can trust."""
        host = headers.get("host", "")
        if not host or origin != f"{scope.get('scheme', 'http')}://{host}" or headers.get("sec-fetch-site", "same-origin") != "same-origin":
            return False
        return self.keys or _trusted_host(host, self.bind_host)


def _trusted_host(host: str, bind_host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name == bind_host:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
