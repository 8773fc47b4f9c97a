"""A test-only protocol that raises the Bedrock error its body names: it runs behind the real
registry, routes and error handlers, so tests see exactly what a client of the server sees."""

from __future__ import annotations

import json

from outcrop import errors
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol
from outcrop.tasks.embedding import Embedder


class RaisingProtocol(Protocol[Embedder]):
    name = "test-raise"
    engine_interface = Embedder
    operations = frozenset({INVOKE_MODEL})

    async def invoke_model(self, ctx: InvokeContext[Embedder]) -> InvokeReply:
        request = json.loads(ctx.body)
        error_class = getattr(errors, request["raise"])
        raise error_class(request.get("message", f"a {request['raise']} for the test"), **request.get("fields", {}))
