"""One table of Bedrock routes (server/operations.py) is what the app routes, what the auth middleware
names permissions by, what the OpenAPI page shows and what the README lists; botocore's service models
are the authority it is checked against."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import botocore

from outcrop.server.operations import IAM_ACTIONS, ROUTES, operation_of

ROOT = Path(__file__).resolve().parents[1]
SERVICE_MODELS = Path(botocore.__file__).parent / "data"


def _service_operations(service: str) -> dict[str, dict[str, object]]:
    folder = sorted((SERVICE_MODELS / service).iterdir())[-1]
    plain, packed = folder / "service-2.json", folder / "service-2.json.gz"
    text = plain.read_text() if plain.exists() else gzip.decompress(packed.read_bytes()).decode()
    return json.loads(text)["operations"]  # type: ignore[no-any-return]


def test_every_route_is_botocores_method_and_path() -> None:
    for route in ROUTES:
        http = _service_operations(route.service)[route.operation]["http"]
        assert isinstance(http, dict)
        assert (http["method"], http["requestUri"].split("?")[0]) == (route.method, route.path), route.operation


def test_the_app_routes_and_documents_exactly_the_table() -> None:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    paths = build_app(Settings.from_env(profile="test")).openapi()["paths"]
    bedrock = {(method.upper(), path): spec["operationId"] for path, methods in paths.items()
               for method, spec in methods.items() if spec.get("tags", [None])[0] in ("bedrock", "bedrock-runtime")}
    assert bedrock == {(route.method, route.path): route.operation for route in ROUTES}
    for route in ROUTES:
        assert paths[route.path][route.method.lower()]["tags"] == [route.service]


def test_middleware_reads_the_operation_and_its_permission_from_the_table() -> None:
    for route in ROUTES:
        raw = re.sub(r"\{(\w+)\}", lambda m: "arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fx.y-v1%3A0"
                     if m.group(1).startswith("model") else "gr1", route.path)
        operation = operation_of(raw, route.method)
        assert operation is not None and operation.name == route.operation
        assert operation.iam_action == IAM_ACTIONS[route.operation] == route.iam_action
        if "{modelId}" in route.path or "{modelIdentifier}" in route.path:
            assert operation.model_id == "arn:aws:bedrock:us-east-1::foundation-model/x.y-v1:0"
    assert operation_of("/model/x/invoke", "GET") is None and operation_of("/health", "GET") is None
    assert operation_of("/guardrails/", "GET").name == "ListGuardrails"  # type: ignore[union-attr]


def test_the_readme_lists_every_operation() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## What it serves"): readme.index("## Profiles")]
    missing = [route.operation for route in ROUTES if route.operation not in section]
    assert not missing
