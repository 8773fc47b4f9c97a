"""Run one InvokeModel or Converse call for a CLI command: through boto3 against an endpoint, or in-process
through the very code the server runs (registry → protocol → engine)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def invoke_json(args: argparse.Namespace, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    from outcrop.cli import CliError
    from outcrop.errors import BedrockError

    try:
        if args.endpoint:
            return _via_endpoint(args.endpoint, model_id, body)
        return asyncio.run(_in_process(args, model_id, body))
    except BedrockError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None


def _via_endpoint(endpoint: str, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    from outcrop.cli import CliError

    client = boto3.client("bedrock-runtime", endpoint_url=endpoint)
    try:
        response = client.invoke_model(modelId=model_id, body=json.dumps(body))
    except ClientError as exc:
        raise CliError(str(exc)) from None
    return json.loads(response["body"].read())


async def _in_process(args: argparse.Namespace, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    from outcrop.config import Settings
    from outcrop.protocols import get_protocol
    from outcrop.protocols.base import InvokeContext
    from outcrop.server.runtime import Runtime

    settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
    runtime = Runtime.build(settings)
    entry = runtime.table.resolve(model_id)
    ctx = InvokeContext(
        model_id=model_id, entry=entry, body=json.dumps(body).encode(), headers={}, request_id="cli",
        engine=lambda: runtime.pool.get(entry, wait_s=24 * 3600),
    )
    try:
        reply = await get_protocol(entry.protocol).invoke_model(ctx)
    finally:
        await runtime.pool.stop()
    return json.loads(reply.body)


def converse_json(args: argparse.Namespace, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """A Converse call: `request` holds boto3 `converse` keyword arguments (raw bytes for images and
    documents); the answer is the Converse response dict, from an endpoint or in-process."""
    from outcrop.cli import CliError
    from outcrop.errors import BedrockError

    try:
        if args.endpoint:
            return _converse_via_endpoint(args.endpoint, model_id, request)
        return asyncio.run(_converse_in_process(args, model_id, request))
    except BedrockError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None


def _converse_via_endpoint(endpoint: str, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    from outcrop.cli import CliError

    client = boto3.client("bedrock-runtime", endpoint_url=endpoint)
    try:
        response = client.converse(modelId=model_id, **request)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    response.pop("ResponseMetadata", None)
    return response


def wire_json(value: Any) -> Any:
    """boto3 arguments as the JSON body botocore sends: blobs become base64 strings."""
    import base64

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: wire_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_json(v) for v in value]
    return value


async def _converse_in_process(args: argparse.Namespace, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    from outcrop.config import Settings
    from outcrop.protocols import get_protocol
    from outcrop.protocols.base import CONVERSE, InvokeContext, unsupported_operation
    from outcrop.server.runtime import Runtime

    settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
    runtime = Runtime.build(settings)
    entry = runtime.table.resolve(model_id)
    protocol = get_protocol(entry.protocol)
    if CONVERSE not in protocol.operations:
        raise unsupported_operation(CONVERSE)
    ctx = InvokeContext(
        model_id=model_id, entry=entry, body=json.dumps(wire_json(request)).encode(), headers={}, request_id="cli",
        engine=lambda: runtime.pool.get(entry, wait_s=24 * 3600),
    )
    try:
        reply = await protocol.converse(ctx)
    finally:
        await runtime.pool.stop()
    return json.loads(reply.body)
