"""Run one InvokeModel call for a CLI command: through boto3 against an endpoint, or in-process
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
