"""Which Bedrock operation and model a raw request path names, for middleware (auth, metrics, logs)
that runs before routing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

_MODEL_ROUTE = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream|converse|converse-stream|count-tokens)$")
_GUARDRAIL_ROUTE = re.compile(r"^/guardrail/([^/]+)/version/([^/]+)/apply$")
# The `bedrock` control plane (botocore's `bedrock` service) on the same port: (method, path) -> operation.
_CONTROL_COLLECTION = re.compile(r"^/guardrails/?$")
_CONTROL_ITEM = re.compile(r"^/guardrails/([^/]+)$")
_FOUNDATION_MODELS = re.compile(r"^/foundation-models/?$")
_FOUNDATION_MODEL = re.compile(r"^/foundation-models/([^/]+)$")
_CONTROL_OPERATIONS = {"GET": "GetGuardrail", "PUT": "UpdateGuardrail", "DELETE": "DeleteGuardrail",
                       "POST": "CreateGuardrailVersion"}
_OPERATIONS = {
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "count-tokens": "CountTokens",
}
# The IAM action that allows each operation (Converse is allowed by bedrock:InvokeModel, as on AWS).
IAM_ACTIONS = {
    "InvokeModel": "bedrock:InvokeModel",
    "Converse": "bedrock:InvokeModel",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    "CountTokens": "bedrock:CountTokens",
    "ApplyGuardrail": "bedrock:ApplyGuardrail",
    "InvokeGuardrailChecks": "bedrock:InvokeGuardrailChecks",
    "CreateGuardrail": "bedrock:CreateGuardrail",
    "GetGuardrail": "bedrock:GetGuardrail",
    "ListGuardrails": "bedrock:ListGuardrails",
    "UpdateGuardrail": "bedrock:UpdateGuardrail",
    "DeleteGuardrail": "bedrock:DeleteGuardrail",
    "CreateGuardrailVersion": "bedrock:CreateGuardrailVersion",
    "ListFoundationModels": "bedrock:ListFoundationModels",
    "GetFoundationModel": "bedrock:GetFoundationModel",
    # outcrop's image search embeds every query with its embedding model: a key may search when it
    # may invoke that model, so a key scoped to other models cannot reach it through /outcrop/v1.
    "Search": "bedrock:InvokeModel",
}
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
    match = _MODEL_ROUTE.match(raw_path)
    if match:
        return Operation(_OPERATIONS[match.group(2)], model_id=unquote(match.group(1)))
    match = _GUARDRAIL_ROUTE.match(raw_path)
    if match:
        return Operation("ApplyGuardrail", guardrail=unquote(match.group(1)))
    if raw_path == "/guardrail-checks/invoke":
        return Operation("InvokeGuardrailChecks")
    if method == "GET" and _FOUNDATION_MODELS.match(raw_path):
        return Operation("ListFoundationModels")
    match = _FOUNDATION_MODEL.match(raw_path)
    if method == "GET" and match:
        return Operation("GetFoundationModel", model_id=unquote(match.group(1)))
    if _CONTROL_COLLECTION.match(raw_path):
        return Operation("ListGuardrails" if method == "GET" else "CreateGuardrail", guardrail="*")
    match = _CONTROL_ITEM.match(raw_path)
    if match and method in _CONTROL_OPERATIONS:
        return Operation(_CONTROL_OPERATIONS[method], guardrail=unquote(match.group(1)).rsplit("/", 1)[-1])
    if raw_path.startswith(SEARCH_PREFIX) or raw_path == SEARCH_PREFIX.rstrip("/"):
        from outcrop.search.embedder import DEFAULT_MODEL

        return Operation("Search", model_id=DEFAULT_MODEL)
    return None


def raw_path_of(scope: Mapping[str, Any]) -> str:
    raw = scope.get("raw_path")
    path: str = raw.split(b"?", 1)[0].decode("latin-1") if raw else scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
