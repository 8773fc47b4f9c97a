"""The AWS error envelope, and the handlers that make every failure Bedrock-shaped."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from outcrop.errors import (
    ERROR_TYPE_NAMESPACE,
    MALFORMED_INPUT,
    BedrockError,
    InternalServerException,
    UnknownOperationException,
    ValidationException,
)

logger = logging.getLogger(__name__)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def error_response(error: BedrockError, request_id: str | None = None) -> Response:
    headers = {"x-amzn-ErrorType": f"{error.code}:{ERROR_TYPE_NAMESPACE}"}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return Response(
        content=json.dumps(error.body()), status_code=error.status, media_type="application/json", headers=headers
    )


def internal_error(request_id: str) -> InternalServerException:
    return InternalServerException(
        f"The server encountered an internal error while processing the request (request id {request_id})."
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BedrockError)
    async def _bedrock(request: Request, exc: BedrockError) -> Response:
        return error_response(exc, request_id_of(request))

    @app.exception_handler(RequestValidationError)
    async def _fastapi_validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(ValidationException(MALFORMED_INPUT), request_id_of(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            return error_response(
                UnknownOperationException(f"No operation matches {request.method} {request.url.path}."),
                request_id_of(request),
            )
        return error_response(ValidationException(str(exc.detail)), request_id_of(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request_id = request_id_of(request)
        logger.error("unhandled error, request id %s", request_id, exc_info=exc)
        return error_response(internal_error(request_id), request_id)
