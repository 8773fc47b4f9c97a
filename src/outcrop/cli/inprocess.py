"""boto3 clients whose requests never leave the process. botocore's `before-send` hook hands each
signed request to the server's own ASGI app (the routes, middleware, protocols and engines that
`outcrop serve` runs) on a private event loop, and the answer streams back as botocore's response.
The CLI runs the SDK over such a client, so a command sends the same requests and prints the same
thing in-process and against `--endpoint`: one code path, only the transport differs."""

from __future__ import annotations

import asyncio
import queue
from contextlib import AbstractContextManager
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse

    from outcrop.config import Settings

# Loopback, so the app treats these requests as a local client's (no foreign Host or Origin).
ENDPOINT = "http://127.0.0.1"
REGION = "us-east-1"
# A command waits for its models to load as long as that takes, instead of ModelNotReadyException.
ENGINE_WAIT_S = 24 * 3600.0
_END = object()


class _Body:
    """The raw response botocore reads: `read` for blobs, `stream` for event streams, `close` when
    the caller stops early (the app then sees `http.disconnect` and cancels the work)."""

    def __init__(self, messages: queue.Queue[Any], on_close: Any) -> None:
        self._messages = messages
        self._on_close = on_close
        self._buffer = bytearray()
        self._done = False

    def _pull(self) -> None:
        message = self._messages.get()
        if message is _END:
            self._done = True
        elif isinstance(message, BaseException):
            self._done = True
            raise message
        elif message.get("type") == "http.response.body":
            self._buffer += message.get("body", b"")
            self._done = not message.get("more_body", False)

    def read(self, amt: int | None = None) -> bytes:
        while not self._done and (amt is None or len(self._buffer) < amt):
            self._pull()
        size = len(self._buffer) if amt is None else min(amt, len(self._buffer))
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        return chunk

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Any:
        while True:
            chunk = self.read(amt) if self._done else self._next_chunk()
            if not chunk:
                return
            yield chunk

    def _next_chunk(self) -> bytes:
        """Whatever the app has sent next, without waiting for more (event frames as they come)."""
        while not self._buffer and not self._done:
            self._pull()
        chunk = bytes(self._buffer)
        self._buffer.clear()
        return chunk

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


class InProcessServer(AbstractContextManager["InProcessServer"]):
    """The server's app on a private event loop for the length of a command; `client()` gives boto3
    clients that reach it without a socket."""

    def __init__(self, settings: Settings) -> None:
        from anyio.from_thread import start_blocking_portal

        from outcrop.runtime import Runtime
        from outcrop.server.app import build_app

        self.settings = settings
        self.runtime = Runtime.build(settings, engine_wait_s=ENGINE_WAIT_S)
        self.app = build_app(settings, self.runtime)
        self._portal_cm = start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        try:
            self._lifespan: AbstractContextManager[Any] | None = self.portal.wrap_async_context_manager(
                self.app.router.lifespan_context(self.app))
            self._lifespan.__enter__()
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise

    def close(self) -> None:
        """Stop the engines (the app's lifespan) and the loop; idempotent."""
        lifespan, self._lifespan = getattr(self, "_lifespan", None), None
        if lifespan is None:
            return
        try:
            lifespan.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self, service: str = "bedrock-runtime") -> Any:
        """A boto3 client for `service` served by this process. Unsigned, unless keys are configured
        (OUTCROP_ACCESS_KEYS, an auth file), which the app checks as the server would: then signed
        with the usual credential chain. One attempt, since nothing on the way can drop a request."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        session = boto3.Session()
        unsigned = {} if self.app.state.keys else {"signature_version": UNSIGNED}
        client = session.client(service, endpoint_url=ENDPOINT, region_name=session.region_name or REGION,
                                config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **unsigned))
        client.meta.events.register("before-send", self._send)
        return client

    def engine(self, model_id: str) -> Any:
        """The loaded engine behind `model_id` (loading it now), e.g. to watch its progress."""
        entry = self.runtime.table.resolve(model_id)
        return self.portal.call(lambda: self.runtime.pool.get(entry, wait_s=ENGINE_WAIT_S))

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        from botocore.awsrequest import AWSResponse

        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        data = body.encode() if isinstance(body, str) else bytes(body or b"")
        headers = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        headers.setdefault("host", url.netloc)
        headers["content-length"] = str(len(data))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "scheme": url.scheme, "path": unquote(url.path), "raw_path": url.path.encode(), "root_path": "",
            "query_string": url.query.encode(), "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80), "state": {},
        }
        messages: queue.Queue[Any] = queue.Queue()
        gone = asyncio.Event()
        self.portal.start_task_soon(self._serve, scope, data, messages, gone)
        first = messages.get()
        while not (isinstance(first, BaseException) or first is _END or first.get("type") == "http.response.start"):
            first = messages.get()
        if isinstance(first, BaseException):
            raise first
        if first is _END:
            raise ConnectionError("the in-process server sent no response")
        answer = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in first.get("headers", [])]
        raw = _Body(messages, lambda: self.portal.call(gone.set))
        return AWSResponse(request.url, first["status"], dict(answer), raw)

    async def _serve(self, scope: dict[str, Any], body: bytes, messages: queue.Queue[Any], gone: asyncio.Event) -> None:
        """One request through the ASGI app; what it sends goes to `messages` for the caller's thread."""
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.put(message)

        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # the app's own error handlers answered already if they could
            messages.put(exc)
        finally:
            messages.put(_END)
