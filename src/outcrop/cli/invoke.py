"""Run InvokeModel or Converse calls for CLI commands: through boto3 against an endpoint, or in-process
through the very code the server runs (registry → protocol → engine)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Any

from outcrop.protocols.base import CONVERSE, INVOKE_MODEL, InvokeReply


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
        from outcrop.runtime import Runtime

        settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
        # A command waits for its models to load as long as that takes.
        self.runtime = Runtime.build(settings, engine_wait_s=24 * 3600)

    async def __aenter__(self) -> LocalRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.pool.stop()

    async def engine(self, model_id: str) -> Any:
        """The loaded engine behind `model_id`."""
        return await self.runtime.pool.get(self.runtime.table.resolve(model_id), wait_s=self.runtime.engine_wait_s)

    async def call(self, operation: str, model_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The operation through `Runtime.invoke`, as the server runs it: same validation, same errors."""
        reply = await self.runtime.invoke(operation, model_id, json.dumps(wire_json(payload)).encode(), request_id="cli")
        assert isinstance(reply, InvokeReply)  # call_json runs the non-streaming operations only
        return json.loads(reply.body)  # type: ignore[no-any-return]


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
