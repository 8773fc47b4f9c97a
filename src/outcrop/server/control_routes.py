"""The routes of botocore's `bedrock` control plane that outcrop serves (guardrail CRUD, the foundation-model catalogue), and
bedrock-runtime's ApplyGuardrail. Their paths do not collide with bedrock-runtime's, so one port
serves both services: point AWS_ENDPOINT_URL_BEDROCK and AWS_ENDPOINT_URL_BEDROCK_RUNTIME at it. Paths, methods,
statuses and tags come from the route table in server/operations.py."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response

from outcrop.errors import ValidationException
from outcrop.guardrails import checks
from outcrop.guardrails.service import Guardrails, region_of
from outcrop.guardrails.wire import CreateGuardrailRequest, CreateGuardrailVersionRequest, GuardrailSpec, parse_json
from outcrop.registry import catalog
from outcrop.server.body import read_body
from outcrop.server.operations import served

logger = logging.getLogger(__name__)
router = APIRouter()


def guardrails_of(request: Request) -> Guardrails:
    state = request.app.state
    if not hasattr(state, "guardrails"):
        runtime = state.runtime
        settings = runtime.settings
        state.guardrails = Guardrails(settings.data_dir, settings.guardrails_file,
                                      _helper(runtime, settings.guardrail_image_model, "embedding"),
                                      _helper(runtime, runtime.guardrail_judge_model, "vision-chat"),
                                      judge_images=runtime.table.guardrail_judge_images)
    return state.guardrails  # type: ignore[no-any-return]


def helper_entry(runtime: Any, model_id: str, engine: str) -> Any | None:
    """The table entry serving `model_id` with that kind of engine, else None."""
    if not model_id:
        return None
    try:
        entry = runtime.table.resolve(model_id)
    except ValidationException:  # the table's answer to an id it does not serve
        return None
    return entry if entry.engine == engine else None


def _helper(runtime: Any, model_id: str, engine: str) -> Callable[[], Awaitable[Any]] | None:
    """A loader of the engine behind `model_id` for the guardrails' detectors (None, and the detector that
    needs it is left out, when the table does not serve that id with that kind of engine)."""
    entry = helper_entry(runtime, model_id, engine)
    if entry is None:
        if model_id:
            logger.warning("guardrails: %r is not a %s model of this profile; its detector is left out", model_id, engine)
        return None
    return lambda: runtime.pool.get(entry, wait_s=runtime.engine_wait_s)


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(content=json.dumps(document, ensure_ascii=False), status_code=status, media_type="application/json")


async def _body(request: Request) -> bytes:
    return await read_body(request, request.app.state.runtime.settings.max_body_bytes)


@served(router, "CreateGuardrail")
async def create_guardrail(request: Request) -> Response:
    """CreateGuardrail: a new guardrail with its DRAFT version, READY at once."""
    body = parse_json(CreateGuardrailRequest, await _body(request))
    control = guardrails_of(request).control
    region = region_of(request.headers.get("authorization"))
    return _json(await asyncio.to_thread(control.create, body, region), 202)


@served(router, "ListGuardrails")
async def list_guardrails(request: Request) -> Response:
    """ListGuardrails: the DRAFT of every guardrail, or every version of one (`guardrailIdentifier`)."""
    query = request.query_params
    control = guardrails_of(request).control
    return _json(await asyncio.to_thread(control.list, query.get("guardrailIdentifier"), query.get("maxResults"),
                                         query.get("nextToken")))


@served(router, "GetGuardrail")
async def get_guardrail(guardrailIdentifier: str, request: Request) -> Response:
    control = guardrails_of(request).control
    return _json(await asyncio.to_thread(control.get, unquote(guardrailIdentifier),
                                         request.query_params.get("guardrailVersion")))


@served(router, "UpdateGuardrail")
async def update_guardrail(guardrailIdentifier: str, request: Request) -> Response:
    """UpdateGuardrail: replaces the DRAFT; numbered versions never change."""
    spec = parse_json(GuardrailSpec, await _body(request))
    control = guardrails_of(request).control
    return _json(await asyncio.to_thread(control.update, unquote(guardrailIdentifier), spec), 202)


@served(router, "DeleteGuardrail")
async def delete_guardrail(guardrailIdentifier: str, request: Request) -> Response:
    """DeleteGuardrail: the whole guardrail, or one numbered version (`guardrailVersion`)."""
    control = guardrails_of(request).control
    return _json(await asyncio.to_thread(control.delete, unquote(guardrailIdentifier),
                                         request.query_params.get("guardrailVersion")), 202)


@served(router, "CreateGuardrailVersion")
async def create_guardrail_version(guardrailIdentifier: str, request: Request) -> Response:
    """CreateGuardrailVersion: an immutable numbered copy of the DRAFT."""
    body = parse_json(CreateGuardrailVersionRequest, await _body(request))
    control = guardrails_of(request).control
    return _json(await asyncio.to_thread(control.create_version, unquote(guardrailIdentifier), body), 202)


@served(router, "ApplyGuardrail")
async def apply_guardrail(guardrailIdentifier: str, guardrailVersion: str, request: Request) -> Response:
    """ApplyGuardrail: evaluate content against a stored guardrail version without invoking a model."""
    body = await _body(request)
    result = await guardrails_of(request).apply(unquote(guardrailIdentifier), unquote(guardrailVersion), body)
    return _json(result)


@served(router, "ListFoundationModels")
async def list_foundation_models(request: Request) -> Response:
    """ListFoundationModels: every id this server serves, with modalities, streaming and inference types."""
    query = request.query_params
    table = request.app.state.runtime.table
    return _json(catalog.list_models(table, region_of(request.headers.get("authorization")), query.get("byProvider"),
                                     query.get("byOutputModality"), query.get("byInferenceType"),
                                     query.get("byCustomizationType")))


@served(router, "GetFoundationModel")
async def get_foundation_model(modelIdentifier: str, request: Request) -> Response:
    table = request.app.state.runtime.table
    return _json(catalog.get_model(table, unquote(modelIdentifier), region_of(request.headers.get("authorization"))))


@served(router, "InvokeGuardrailChecks")
async def invoke_guardrail_checks(request: Request) -> Response:
    """InvokeGuardrailChecks: inline content, prompt-attack and PII checks, no stored guardrail."""
    body = parse_json(checks.InvokeGuardrailChecksRequest, await _body(request))
    return _json(await asyncio.to_thread(checks.run, body))
