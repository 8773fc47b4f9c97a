"""Every exception type of botocore's bedrock-runtime service model, written by the real server and
raised by botocore as that very class (`client.exceptions.X`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import botocore.session
import pytest
from botocore.config import Config

from outcrop import errors
from servers import ThreadServer

MODEL = "test.raise-v1"
CASES = [
    ("ValidationException", 400, {}),
    ("ServiceQuotaExceededException", 400, {}),
    ("ConflictException", 400, {}),
    ("AccessDeniedException", 403, {}),
    ("ResourceNotFoundException", 404, {}),
    ("ModelTimeoutException", 408, {}),
    ("ModelErrorException", 424, {"originalStatusCode": 503, "resourceName": "test.raise-v1"}),
    ("ModelStreamErrorException", 424, {"originalStatusCode": 500, "originalMessage": "upstream said no"}),
    ("ThrottlingException", 429, {}),
    ("ModelNotReadyException", 429, {}),
    ("InternalServerException", 500, {}),
    ("ServiceUnavailableException", 503, {}),
]


def service_error_shapes() -> set[str]:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return {shape.name for name in model.operation_names for shape in model.operation_model(name).error_shapes}


def test_modeled_errors_cover_the_installed_service_model() -> None:
    assert {cls.code for cls in errors.MODELED_ERRORS} == service_error_shapes()
    assert {code for code, _, _ in CASES} == service_error_shapes()


@pytest.fixture(scope="module")
def raising_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    from outcrop.config import Settings
    from outcrop.protocols import register_protocol, unregister_protocol
    from outcrop.server.app import build_app

    register_protocol("test-raise", "raising_protocol:RaisingProtocol")
    models = tmp_path_factory.mktemp("errors") / "models.toml"
    models.write_text(f'[models."{MODEL}"]\nprotocol = "test-raise"\nengine = "embedding"\nweights = "builtin:tiny-siglip"\n')
    try:
        with ThreadServer(build_app(Settings.from_env(profile="test", models_file=models))) as server:
            yield server
    finally:
        unregister_protocol("test-raise")


@pytest.mark.parametrize(("code", "status", "fields"), CASES, ids=[c[0] for c in CASES])
def test_botocore_raises_the_modeled_class(raising_server: ThreadServer, code: str, status: int, fields: dict) -> None:  # type: ignore[type-arg]
    client = boto3.client("bedrock-runtime", endpoint_url=raising_server.url, region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    expected = getattr(client.exceptions, code)
    with pytest.raises(expected) as info:
        client.invoke_model(modelId=MODEL, body=json.dumps({"raise": code, "message": f"why: {code}", "fields": fields}))
    assert type(info.value) is expected
    response = info.value.response
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"] == f"why: {code}"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status == getattr(errors, code).status
    assert response["ResponseMetadata"]["RequestId"]
    for name, value in fields.items():
        assert response[name] == value
