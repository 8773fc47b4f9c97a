"""The server's protective layers, installed in one call from `build_app` so the app factory stays
a list of routers: request-body draining (outermost), metrics + access log, cross-origin refusal,
authentication, and client-disconnect cancellation (innermost)."""

from __future__ import annotations

from fastapi import FastAPI

from outcrop.config import Settings
from outcrop.server.auth import Authenticate, load_keys
from outcrop.server.cors import RefuseForeignOrigins
from outcrop.server.disconnect import CancelOnDisconnect, DrainRequestBody
from outcrop.server.metrics import Metrics, Observe
from outcrop.runtime import Runtime


def install_security(app: FastAPI, settings: Settings, runtime: Runtime) -> None:
    """Add middleware innermost first (Starlette wraps each new one around the previous)."""
    keys = load_keys(settings.auth_file)
    app.state.keys = keys
    app.state.metrics = metrics = Metrics(runtime)
    app.add_middleware(CancelOnDisconnect, stalled_send_timeout_s=settings.stalled_send_timeout_s)
    if keys:
        app.add_middleware(Authenticate, keys=keys, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseForeignOrigins, origins=settings.cors_origins, bind_host=settings.host, keys=bool(keys))
    app.add_middleware(Observe, metrics=metrics)
    app.add_middleware(DrainRequestBody, limit=settings.max_body_bytes)
