"""ListFoundationModels / GetFoundationModel through a real boto3 `bedrock` client: the served ids
of the test profile with their modalities, streaming support and inference types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from servers import ThreadServer


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    settings = Settings.from_env(profile="test", data_dir=tmp_path_factory.mktemp("fm"))
    with ThreadServer(build_app(settings)) as server:
        yield boto3.client("bedrock", endpoint_url=server.url,
                           config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def test_list_reports_every_served_id(control: Any) -> None:
    from outcrop.config import Settings
    from outcrop.registry import load_model_table

    served = {entry.model_id for entry in load_model_table("test", Settings.from_env(profile="test").models_file)}
    models = {m["modelId"]: m for m in control.list_foundation_models()["modelSummaries"]}
    assert set(models) == served
    claude = models["anthropic.claude-3-sonnet-20240229-v1:0"]
    assert claude["modelArn"] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0"
    assert claude["providerName"] == "Anthropic" and claude["modelName"] == "Claude 3 Sonnet"
    assert claude["inputModalities"] == ["TEXT", "IMAGE"] and claude["outputModalities"] == ["TEXT"]
    assert claude["responseStreamingSupported"] is True and claude["inferenceTypesSupported"] == ["ON_DEMAND"]
    assert claude["modelLifecycle"] == {"status": "ACTIVE"}
    embed = models["amazon.titan-embed-image-v1"]
    assert embed["outputModalities"] == ["EMBEDDING"] and embed["responseStreamingSupported"] is False
    assert any(m["outputModalities"] == ["IMAGE"] for m in models.values())


def test_filters(control: Any) -> None:
    images = control.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"]
    assert images and all(m["outputModalities"] == ["IMAGE"] for m in images)
    anthropic = control.list_foundation_models(byProvider="anthropic")["modelSummaries"]
    assert anthropic and all(m["modelId"].startswith("anthropic.") for m in anthropic)
    assert control.list_foundation_models(byInferenceType="PROVISIONED")["modelSummaries"] == []
    assert control.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        control.list_foundation_models(byOutputModality="VIDEO")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]" in excinfo.value.response["Error"]["Message"]


def test_get_by_id_alias_and_arn(control: Any) -> None:
    details = control.get_foundation_model(modelIdentifier="amazon.titan-embed-image-v1")["modelDetails"]
    assert details["modelId"] == "amazon.titan-embed-image-v1" and details["inputModalities"] == ["TEXT", "IMAGE"]
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0"
    assert control.get_foundation_model(modelIdentifier=arn)["modelDetails"]["modelId"] == arn.rsplit("/", 1)[1]
    with pytest.raises(ClientError) as excinfo:
        control.get_foundation_model(modelIdentifier="nope.not-a-model-v1")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        control.get_foundation_model(modelIdentifier="NOT VALID")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_scoped_key_needs_the_list_permission(tmp_path: Path) -> None:
    from outcrop.config import Settings
    from outcrop.server.app import build_app

    (tmp_path / "auth.toml").write_text('[[access_keys]]\nname = "invoke-only"\naccess_key_id = "AKIDINVOKEONLY"\n'
                                        'secret_access_key = "s"\nactions = ["bedrock:InvokeModel"]\n')
    with ThreadServer(build_app(Settings.from_env(profile="test", auth_file=tmp_path / "auth.toml",
                                                  data_dir=tmp_path / "data"))) as server:
        client = boto3.client("bedrock", endpoint_url=server.url, aws_access_key_id="AKIDINVOKEONLY",
                              aws_secret_access_key="s", config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError) as excinfo:
            client.list_foundation_models()
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "bedrock:ListFoundationModels" in excinfo.value.response["Error"]["Message"]
