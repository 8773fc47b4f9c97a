"""Authentication and authorization as a pure ASGI middleware.

SigV4 needs the whole body for its payload hash: the middleware reads it (never more than the body
limit), verifies, then replays it to the app; later `receive` calls go to the server again, so
the app still sees a client that disconnects. Bearer requests stream through untouched. The
principal goes into `scope["state"]["principal"]` for logs and metrics (a name, never a secret).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outcrop.errors import (
    AccessDeniedException,
    BedrockError,
    IncompleteSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from outcrop.server.auth import bearer, sigv4
from outcrop.server.auth.keys import KeyStore, Principal
from outcrop.server.body import _too_large
from outcrop.server.errors import error_response
from outcrop.server.operations import Operation, operation_of, raw_path_of
from outcrop.server.ratelimit import ConcurrencyLimiter, RateLimiter

logger = logging.getLogger(__name__)

# Routes anyone may read: liveness, metrics for the scraper, the API description.
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
INVALID_TOKEN = "The security token included in the request is invalid."


class Authenticate:
    def __init__(
        self,
        app: ASGIApp,
        keys: KeyStore,
        max_body_bytes: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.now = now
        self.limiter = RateLimiter()
        self.concurrency = ConcurrencyLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or raw_path_of(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            principal, region, receive = await self._authenticate(scope, receive)
            operation = operation_of(raw_path_of(scope), scope["method"])
            if operation is not None:
                _authorize(principal, operation, region)
            self.limiter.check(principal.name, principal.requests_per_second, principal.burst)
            holds_slot = self.concurrency.acquire(principal.name, principal.max_concurrency)
        except BedrockError as exc:
            request_id = scope.get("state", {}).get("request_id")
            logger.info("request %s refused: %s", request_id, exc.code)
            await error_response(exc, request_id)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal.name
        try:
            # Returns when the response is complete, or once CancelOnDisconnect (inside) has cancelled
            # the work of a client that went away: either way the slot is free again.
            await self.app(scope, receive, send)
        finally:
            if holds_slot:
                self.concurrency.release(principal.name)

    async def _authenticate(self, scope: Scope, receive: Receive) -> tuple[Principal, str, Receive]:
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        authorization = next((v for k, v in headers if k == "authorization"), None)
        if authorization is None:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        if bearer.is_bearer(authorization):
            return bearer.authenticate(authorization, self.keys), self.keys.regions[0] if self.keys.regions else "*", receive
        parsed = sigv4.parse_authorization(authorization)
        key = self.keys.access_key(parsed.access_key_id)
        if key is None:
            raise UnrecognizedClientException(INVALID_TOKEN)
        token = next((v for k, v in headers if k == "x-amz-security-token"), None)
        if (token is None) != (key.session_token is None) or (
            token is not None and not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), str(key.session_token).encode())
        ):
            raise UnrecognizedClientException(INVALID_TOKEN)  # session tokens are secrets: compared in constant time
        amz_date = next((v for k, v in headers if k == "x-amz-date"), None)
        sigv4.check_scope(parsed, amz_date, self.now(), self.keys.region_allowed(parsed.region))
        assert amz_date is not None  # check_scope refuses a request without one
        declared = next((v for k, v in headers if k == "content-length"), "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _too_large(self.max_body_bytes)  # before reading a byte of it
        body, receive = await _buffer_body(receive, self.max_body_bytes)
        sigv4.verify_signature(
            parsed,
            secret_access_key=key.secret_access_key,
            method=scope["method"],
            scheme=scope.get("scheme", "http"),
            raw_path=(scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0].decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            amz_date=amz_date,
            session_token=key.session_token,
        )
        return key.principal, parsed.region, receive


def _authorize(principal: Principal, operation: Operation, region: str) -> None:
    action = operation.iam_action
    if operation.model_id is not None:
        resource = f"arn:aws:bedrock:{region}::foundation-model/{operation.model_id}"
    elif operation.guardrail is not None:
        resource = f"arn:aws:bedrock:{region}::guardrail/{operation.guardrail}"
    else:
        resource = "*"
    allowed = principal.permissions.allows_action(action) and (
        operation.model_id is None or principal.permissions.allows_model(operation.model_id)
    )
    if not allowed:
        raise AccessDeniedException(
            f"User: {principal.name} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )


async def _buffer_body(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    """The whole body (at most `limit` bytes), and a `receive` that replays it, then defers to the server."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IncompleteSignatureException("The client disconnected before sending the whole request body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
