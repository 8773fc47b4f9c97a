"""More vision ids on Converse, under their cross-region inference-profile spellings, through boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from images import image_bytes

IDS = ["meta.llama3-2-11b-instruct-v1:0", "meta.llama3-2-90b-instruct-v1:0", "meta.llama4-scout-17b-instruct-v1:0",
       "meta.llama4-maverick-17b-instruct-v1:0", "mistral.pixtral-large-2502-v1:0",
       "anthropic.claude-opus-4-5-20251101-v1:0", "amazon.nova-2-lite-v1:0"]
PREFIXES = ["", "us.", "eu.", "apac.", "global."]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("model", IDS)
def test_converse_with_an_image(bedrock, model: str, prefix: str) -> None:
    response = bedrock.converse(
        modelId=prefix + model, inferenceConfig={"maxTokens": 4},
        messages=[{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": image_bytes()}}},
                                               {"text": "describe the image"}]}])
    assert response["output"]["message"]["role"] == "assistant"
    assert 0 < response["usage"]["outputTokens"] <= 4


def test_the_same_engine_answers_every_id(bedrock) -> None:
    answers = {bedrock.converse(modelId=m, messages=[{"role": "user", "content": [{"text": "hello"}]}],
                                inferenceConfig={"maxTokens": 6})["output"]["message"]["content"][0]["text"] for m in IDS}
    assert len(answers) == 1


@pytest.mark.parametrize("model", ["global.anthropic.claude-opus-4-5-20251101-v1:0", "apac.anthropic.claude-sonnet-4-20250514-v1:0",
                                   "us-gov.anthropic.claude-3-haiku-20240307-v1:0"])
def test_anthropic_model_name_drops_every_profile_prefix(bedrock, model: str) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    answer = json.loads(bedrock.invoke_model(modelId=model, body=json.dumps(body))["body"].read())
    assert answer["model"] == model.split(".", 1)[1].removeprefix("anthropic.").rsplit("-v", 1)[0]


def test_llama_and_pixtral_native_bodies_are_not_served(bedrock) -> None:
    for model in ("meta.llama3-2-11b-instruct-v1:0", "us.mistral.pixtral-large-2502-v1:0"):
        with pytest.raises(ClientError) as caught:
            bedrock.invoke_model(modelId=model, body=json.dumps({"prompt": "hi"}))
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["Error"]["Message"] == "This model doesn't support the InvokeModel operation."
