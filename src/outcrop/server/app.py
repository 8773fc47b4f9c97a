"""`build_app(settings)`: the FastAPI app, its lifespan (engines start and stop) and its middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

import outcrop
from outcrop.config import Settings
from outcrop.playground import PlaygroundAssets, install_docs
from outcrop.server.bedrock_routes import router as bedrock_router
from outcrop.server.control_routes import router as control_router
from outcrop.server.errors import install_error_handlers
from outcrop.server.index_routes import router as index_router
from outcrop.server.middleware import RawPathRouting, RequestId
from outcrop.server.progress import ProgressHub
from outcrop.server.progress import router as progress_router
from outcrop.runtime import Runtime
from outcrop.server.search_routes import router as search_router
from outcrop.server.security import install_security

logger = logging.getLogger(__name__)


def build_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.preload:
            logger.info("preloading every model of profile %s", runtime.table.profile)
            await runtime.pool.preload()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await runtime.pool.stop()

    app = FastAPI(
        title="outcrop",
        version=outcrop.__version__,
        description="Amazon Bedrock's multimodal runtime on your own hardware: the `bedrock-runtime` wire API "
        "over open models. Point any AWS SDK at this server with AWS_ENDPOINT_URL_BEDROCK_RUNTIME.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from the package's own Swagger UI files
    )
    app.state.runtime = runtime
    app.state.ready = False
    app.state.progress = ProgressHub()
    install_error_handlers(app)
    app.include_router(bedrock_router)  # each Bedrock route's tag is its service (server/operations.py)
    app.include_router(control_router)
    app.include_router(search_router)
    app.include_router(index_router)
    app.include_router(progress_router)
    install_docs(app)

    @app.get("/health", tags=["outcrop"])
    async def health(request: Request) -> dict[str, Any]:
        """200 once the server accepts requests; lists the models and their load state."""
        return {
            "status": "ok",
            "version": outcrop.__version__,
            "profile": runtime.table.profile,
            "models": sorted(entry.model_id for entry in runtime.table),
            "engines": runtime.pool.status(),
        }

    # Each add wraps the previous: raw-path routing innermost, then metrics/CORS/auth/disconnect
    # (server/security.py), the playground's public files, request ids outermost so every response,
    # refusals included, has one.
    app.add_middleware(RawPathRouting)
    install_security(app, settings, runtime)
    app.add_middleware(PlaygroundAssets)
    app.add_middleware(RequestId)
    return app
