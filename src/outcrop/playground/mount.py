"""Serve the playground's files and the offline OpenAPI page.

The files are public and read-only, like `/docs`: `PlaygroundAssets` answers GET/HEAD for `/` and
`/playground/...` before the authentication layer, so a server with keys still shows its page, which
then asks for an API key and calls the Bedrock routes like any other client (see server/cors.py for
how the page's own requests are told apart from a cross-site one).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/playground/"
SWAGGER = f"{PREFIX}vendor/swagger-ui/"
# The page loads only its own files; images it shows are data:/blob: URLs it made; no framing (clickjacking).
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


class PlaygroundAssets:
    """Answer GET/HEAD `/` (index.html) and `/playground/*` from STATIC_DIR; everything else goes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.files = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not (path == "/" or path.startswith(PREFIX)):
            await self.app(scope, receive, send)
            return
        relative = "index.html" if path == "/" else path[len(PREFIX):]
        inner = {**scope, "path": "/" + relative, "root_path": ""}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in PAGE_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        try:
            response = await self.files.get_response(self.files.get_path(inner), inner)
        except HTTPException as exc:  # a missing file or a path outside the folder: no traceback, no 500
            response = JSONResponse({"message": exc.detail}, status_code=exc.status_code)
        await response(inner, receive, send_with_headers)


def install_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the vendored swagger-ui-dist files instead of cdn.jsdelivr.net.
    The app must be built with `docs_url=None`."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER}swagger-ui-bundle.js", swagger_css_url=f"{SWAGGER}swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}favicon-32x32.png",
        )
