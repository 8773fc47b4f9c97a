"""Run InvokeModel or Converse calls for CLI commands: through boto3 against an endpoint, or in-process
through the very code the server runs (registry → protocol → engine)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Any

from outcrop.protocols.base import CONVERSE, INVOKE_MODEL

_METHODS = {INVOKE_MODEL: "invoke_model", CONVERSE: "converse"}


def wire_json(value: Any) -> Any:
    """boto3 arguments as the JSON body botocore sends: blobs become base64 strings."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: wire_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_json(v) for v in value]
    return value


class LocalRuntime:
    """The server's registry, engines and protocols, in this process, for the length of a command."""

    def __init__(self, args: argparse.Namespace) -> None:
        from outcrop.config import Settings
        from outcrop.server.runtime import Runtime

        settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
        self.runtime = Runtime.build(settings)

    async def __aenter__(self) -> LocalRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.pool.stop()

    async def engine(self, model_id: str) -> Any:
        """The loaded engine behind `model_id` (a CLI waits for loading as long as it takes)."""
        return await self.runtime.pool.get(self.runtime.table.resolve(model_id), wait_s=24 * 3600)

    async def call(self, operation: str, model_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        from outcrop.protocols import get_protocol
        from outcrop.protocols.base import InvokeContext, unsupported_operation

        entry = self.runtime.table.resolve(model_id)
        protocol = get_protocol(entry.protocol)
        if operation not in protocol.operations:
            raise unsupported_operation(operation)
        ctx = InvokeContext(
            model_id=model_id, entry=entry, body=json.dumps(wire_json(payload)).encode(), headers={},
            request_id="cli", engine=lambda: self.engine(model_id),
            chat_engine=lambda helper: self.runtime.chat_engine(helper, wait_s=24 * 3600),
        )
        reply = await getattr(protocol, _METHODS[operation])(ctx)
        return json.loads(reply.body)


def call_json(args: argparse.Namespace, operation: str, model_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One call: `payload` is the InvokeModel body, or boto3 `converse` keyword arguments (raw bytes
    for images and documents). The answer is the response body / Converse response as a dict."""
    from outcrop.cli import CliError
    from outcrop.errors import BedrockError

    async def in_process() -> dict[str, Any]:
        async with LocalRuntime(args) as local:
            return await local.call(operation, model_id, payload)

    try:
        if args.endpoint:
            return _via_endpoint(args.endpoint, operation, model_id, payload)
        return asyncio.run(in_process())
    except BedrockError as exc:
        raise CliError(f"{exc.code}: {exc.message}") from None


def invoke_json(args: argparse.Namespace, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return call_json(args, INVOKE_MODEL, model_id, body)


def converse_json(args: argparse.Namespace, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    return call_json(args, CONVERSE, model_id, request)


def _via_endpoint(endpoint: str, operation: str, model_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    from outcrop.cli import CliError

    client = boto3.client("bedrock-runtime", endpoint_url=endpoint)
    try:
        if operation == INVOKE_MODEL:
            return json.loads(client.invoke_model(modelId=model_id, body=json.dumps(payload))["body"].read())
        response = client.converse(modelId=model_id, **payload)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    response.pop("ResponseMetadata", None)
    return response
