"""Serve the app over HTTP/1.1 and HTTP/2 with Hypercorn: h2c with prior knowledge on plain http
(the AWS SDK for JavaScript v3 speaks HTTP/2), h2 by ALPN over TLS. SIGTERM/SIGINT stop accepting,
drain in-flight requests up to `graceful_timeout`, then exit."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from outcrop.config import Settings
from outcrop.server import h2_goaway

if TYPE_CHECKING:
    from outcrop.runtime import Runtime

logger = logging.getLogger(__name__)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.graceful_timeout = settings.shutdown_timeout_s
    config.keep_alive_timeout = 75
    config.h11_max_incomplete_size = 64 * 1024
    config.accesslog = logging.getLogger("hypercorn.access") if settings.access_log else None
    config.errorlog = logging.getLogger("hypercorn.error")
    if settings.tls_cert and settings.tls_key:
        config.certfile = str(settings.tls_cert)
        config.keyfile = str(settings.tls_key)
        config.alpn_protocols = ["h2", "http/1.1"]
    return config


async def serve_forever(settings: Settings, runtime: Runtime | None = None) -> None:
    from outcrop.server.app import build_app

    app = build_app(settings, runtime)
    config = hypercorn_config(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheme = "https" if settings.tls_cert else "http"
    logger.info("outcrop serving profile %s on %s://%s:%d", app.state.runtime.table.profile, scheme, settings.host, settings.port)
    await serve_app(app, config, shutdown_trigger=stop.wait)


async def serve_app(app: Any, config: Config, shutdown_trigger: Callable[[], Awaitable[Any]]) -> None:
    """Hypercorn's `serve`, with HTTP/2 connections that outlive a client's graceful GOAWAY."""
    h2_goaway.install()
    await serve(app, config, shutdown_trigger=shutdown_trigger)
