"""Schemathesis against the server's own OpenAPI description (/openapi.json): whatever it generates
(model ids with odd characters and encodings, guardrail ids, headers, bodies), the server answers
with a Bedrock-shaped response and never a 5xx."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from servers import ThreadServer

CASES_RUN = {"n": 0}
EXAMPLES = int(os.environ.get("OUTCROP_FUZZ_API_EXAMPLES", "60"))  # per operation; bench/fuzz.py raises it


@pytest.fixture(scope="module")
def live_server() -> Iterator[ThreadServer]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    with ThreadServer(build_app(Settings.from_env(profile="test"))) as server:
        yield server
    print(f"\nschemathesis cases run: {CASES_RUN['n']}")


@pytest.fixture(scope="module")
def api_schema(live_server: ThreadServer) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_no_server_errors(api_schema: Any) -> None:
    """Every operation of the schema, fuzzed by schemathesis' generators through Hypothesis."""
    ops = operations(api_schema)
    assert {op.path for op in ops} >= {"/model/{modelId}/invoke", "/model/{modelId}/converse-stream"}
    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            CASES_RUN["n"] += 1
            response = case.call(timeout=30)
            assert response.status_code < 500, (case.path, case.path_parameters, response.status_code, response.text[:300])
            assert response.headers.get("x-amzn-requestid")
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body["message"], str), response.text[:300]
                if case.path.startswith("/outcrop/"):
                    # outcrop's own routes (search) say plainly they are not Bedrock: their own error body.
                    assert isinstance(body["error"], str), response.text[:300]
                else:
                    assert response.headers.get("x-amzn-errortype"), response.text[:300]

        check()
