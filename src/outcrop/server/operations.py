"""The Bedrock routes this server serves (one table: routing, permission names, metrics and the OpenAPI
page read it), and which operation and model a raw request path names, for middleware (auth, metrics,
logs) that runs before routing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter


@dataclass(frozen=True)
class Route:
    """One operation of botocore's `bedrock-runtime` or `bedrock` service model, as served here."""

    operation: str
    method: str
    path: str  # the service model's requestUri, which is also the route's template
    service: str  # "bedrock-runtime" or "bedrock" (the control plane), the OpenAPI tag
    iam_action: str  # the IAM action that allows it (Converse is allowed by bedrock:InvokeModel, as on AWS)
    status: int = 200
    optional_slash: bool = False  # a collection path answers with or without a trailing slash

    @property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.path, self.optional_slash)


_RUNTIME, _CONTROL = "bedrock-runtime", "bedrock"
# The one table of Bedrock routes: the server's routes, the auth middleware's permission names, metrics and
# logs, and the OpenAPI page all read it.
ROUTES: tuple[Route, ...] = (
    Route("InvokeModel", "POST", "/model/{modelId}/invoke", _RUNTIME, "bedrock:InvokeModel"),
    Route("InvokeModelWithResponseStream", "POST", "/model/{modelId}/invoke-with-response-stream", _RUNTIME,
          "bedrock:InvokeModelWithResponseStream"),
    Route("Converse", "POST", "/model/{modelId}/converse", _RUNTIME, "bedrock:InvokeModel"),
    Route("ConverseStream", "POST", "/model/{modelId}/converse-stream", _RUNTIME, "bedrock:InvokeModelWithResponseStream"),
    Route("CountTokens", "POST", "/model/{modelId}/count-tokens", _RUNTIME, "bedrock:CountTokens"),
    Route("ApplyGuardrail", "POST", "/guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply", _RUNTIME,
          "bedrock:ApplyGuardrail"),
    Route("InvokeGuardrailChecks", "POST", "/guardrail-checks/invoke", _RUNTIME, "bedrock:InvokeGuardrailChecks"),
    Route("CreateGuardrail", "POST", "/guardrails", _CONTROL, "bedrock:CreateGuardrail", 202, True),
    Route("ListGuardrails", "GET", "/guardrails", _CONTROL, "bedrock:ListGuardrails", optional_slash=True),
    Route("GetGuardrail", "GET", "/guardrails/{guardrailIdentifier}", _CONTROL, "bedrock:GetGuardrail"),
    Route("UpdateGuardrail", "PUT", "/guardrails/{guardrailIdentifier}", _CONTROL, "bedrock:UpdateGuardrail", 202),
    Route("DeleteGuardrail", "DELETE", "/guardrails/{guardrailIdentifier}", _CONTROL, "bedrock:DeleteGuardrail", 202),
    Route("CreateGuardrailVersion", "POST", "/guardrails/{guardrailIdentifier}", _CONTROL,
          "bedrock:CreateGuardrailVersion", 202),
    Route("ListFoundationModels", "GET", "/foundation-models", _CONTROL, "bedrock:ListFoundationModels",
          optional_slash=True),
    Route("GetFoundationModel", "GET", "/foundation-models/{modelIdentifier}", _CONTROL, "bedrock:GetFoundationModel"),
)
ROUTE = {route.operation: route for route in ROUTES}
IAM_ACTIONS = {route.operation: route.iam_action for route in ROUTES} | {
    # outcrop's image search embeds every query with its embedding model: a key may search when it
    # may invoke that model, so a key scoped to other models cannot reach it through /outcrop/v1.
    "Search": "bedrock:InvokeModel",
}
_MODEL_PARAMS = ("modelId", "modelIdentifier")


def _pattern(path: str, optional_slash: bool) -> re.Pattern[str]:
    """The route's template as a regex over a raw path: each `{param}` is one percent-encoded segment."""
    body = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{body}{'/?' if optional_slash else ''}$")


_MATCHERS = [(route, route.pattern) for route in ROUTES]


def served(router: APIRouter, operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`router`'s decorator for `operation`, from the table: method, path, operation id, status and tag."""
    route = ROUTE[operation]
    return router.api_route(route.path, methods=[route.method], operation_id=route.operation,
                            status_code=route.status, tags=[route.service])
SEARCH_PREFIX = "/outcrop/v1/"


@dataclass(frozen=True)
class Operation:
    name: str
    model_id: str | None = None  # decoded, as sent
    guardrail: str | None = None

    @property
    def iam_action(self) -> str:
        return IAM_ACTIONS[self.name]


def operation_of(raw_path: str, method: str = "POST") -> Operation | None:
    """The Bedrock operation of a raw (still percent-encoded) path and its method, or None for other routes."""
    for route, pattern in _MATCHERS:
        match = pattern.match(raw_path) if route.method == method else None
        if match is None:
            continue
        params = {name: unquote(value) for name, value in match.groupdict().items()}
        model_id = next((params[name] for name in _MODEL_PARAMS if name in params), None)
        guardrail = params.get("guardrailIdentifier")
        if route.service == _CONTROL and route.path.startswith("/guardrails"):
            # The control plane takes an id or an ARN; its permission names the id. Collections: any guardrail.
            guardrail = guardrail.rsplit("/", 1)[-1] if guardrail is not None else "*"
        return Operation(route.operation, model_id=model_id, guardrail=guardrail)
    if raw_path.startswith(SEARCH_PREFIX) or raw_path == SEARCH_PREFIX.rstrip("/"):
        from outcrop.search.embedder import DEFAULT_MODEL

        return Operation("Search", model_id=DEFAULT_MODEL)
    return None


def raw_path_of(scope: Mapping[str, Any]) -> str:
    raw = scope.get("raw_path")
    path: str = raw.split(b"?", 1)[0].decode("latin-1") if raw else scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
