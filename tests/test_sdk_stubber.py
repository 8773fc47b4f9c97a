"""The sync SDK against botocore's Stubber loaded with Bedrock's documented response shapes, for the
calls tests/test_sdk.py's Stubber tests leave out: image embeddings, describe/compare, Nova Canvas
and SDXL variations, ApplyGuardrail, and every error code botocore's service model lists for the
operations the SDK calls. The Stubber checks each canned response against botocore's model of
Bedrock, and each request's parameters against the operation's input shape, so these prove the SDK
speaks Bedrock itself, not only outcrop."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from outcrop import MultimodalAssistant
from outcrop.sdk import errors
from test_sdk import NOVA, Recorder, converse_response, invoke_response, png

SERVICE = botocore.session.get_session().get_service_model("bedrock-runtime")


@pytest.fixture
def stubbed() -> Iterator[tuple[MultimodalAssistant, Stubber, Recorder]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    assistant = MultimodalAssistant(client=client)
    assistant._sleep = lambda seconds: None
    recorder = Recorder(client)
    with Stubber(client) as stubber:
        yield assistant, stubber, recorder
        stubber.assert_no_pending_responses()


def test_image_embeddings_documented_response(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    """Titan Multimodal Embeddings G1 answers {"embedding": [...], "inputTextTokenCount": int, "message": string}."""
    assistant, stubber, recorder = stubbed
    stubber.add_response("invoke_model", invoke_response({"embedding": [0.0, 1.0, 0.0], "inputTextTokenCount": 0,
                                                          "message": None}, "img-1"))
    stubber.add_response("invoke_model", invoke_response({"embedding": [0.6, 0.8], "inputTextTokenCount": 5,
                                                          "message": None}, "img-2"))
    picture = assistant.embed_image(png(), dimensions=384)
    both = assistant.embed_image(png(), text="a red car")
    assert (picture.vector, picture.request_id, picture.usage.input_images) == ([0.0, 1.0, 0.0], "img-1", 1)
    assert both.input_tokens == 5 and both.usage.input_images == 1
    first, second = recorder.bodies()
    assert base64.b64decode(first["inputImage"]) == png() and first["embeddingConfig"] == {"outputEmbeddingLength": 384}
    assert second["inputText"] == "a red car" and "embeddingConfig" not in second
    tally = assistant.usage.by_model["amazon.titan-embed-image-v1"]
    assert tally.usage.input_images == 2 and tally.estimated_cost_usd == pytest.approx(2 * 0.00006 + 5 / 1000 * 0.0008)


def test_describe_and_compare_are_converse_calls(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, recorder = stubbed
    stubber.add_response("converse", converse_response("A teal square.", 1200, 5))
    stubber.add_response("converse", converse_response("Both are squares; one is red.", 2400, 8))
    assert assistant.describe(png(), max_tokens=20).text == "A teal square."
    compared = assistant.compare_images(png(), png(color="red"), question="Differences?")
    assert compared.text.startswith("Both") and compared.usage.input_images == 2
    describe, compare = (params for name, params in recorder.calls)
    assert describe["modelId"] == "anthropic.claude-3-sonnet-20240229-v1:0"
    assert [next(iter(b)) for b in compare["messages"][0]["content"]] == ["image", "image", "text"]
    assert compare["messages"][0]["content"][2] == {"text": "Differences?"} and "inferenceConfig" not in compare
    assert assistant.usage.by_model["anthropic.claude-3-sonnet-20240229-v1:0"].usage.input_images == 3


def test_nova_and_sdxl_variations(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    """Nova Canvas answers {"images": [...], "error": null}; SDXL {"result", "artifacts": [...]}."""
    assistant, stubber, recorder = stubbed
    encoded = base64.b64encode(png((64, 64))).decode()
    stubber.add_response("invoke_model", invoke_response({"images": [encoded, encoded], "error": None}, "n-1"))
    stubber.add_response("invoke_model", invoke_response(
        {"result": "success", "artifacts": [{"seed": 11, "base64": encoded, "finishReason": "CONTENT_FILTERED"}]}))
    nova = assistant.vary_image([png(), png(color="red")], "in winter", similarity=0.9, n=2, seed=5, model=NOVA)
    assert len(nova.images) == 2 and nova.request_ids == ["n-1"] and nova.seed == 5
    sdxl = assistant.vary_image(png(), "in winter", similarity=0.35, seed=11, model="stability.stable-diffusion-xl-v1")
    assert sdxl.images[0].seed == 11 and sdxl.images[0].finish_reason == "CONTENT_FILTERED"
    nova_body, sdxl_body = recorder.bodies()
    assert nova_body["taskType"] == "IMAGE_VARIATION" and len(nova_body["imageVariationParams"]["images"]) == 2
    assert nova_body["imageGenerationConfig"] == {"numberOfImages": 2, "seed": 5}
    assert sdxl_body["init_image_mode"] == "IMAGE_STRENGTH" and sdxl_body["image_strength"] == 0.35
    assert sdxl_body["text_prompts"] == [{"text": "in winter", "weight": 1.0}] and sdxl_body["seed"] == 11


def test_apply_guardrail_documented_response(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, recorder = stubbed
    assessment = {"sensitiveInformationPolicy": {"piiEntities": [
        {"match": "taro@example.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}], "regexes": []},
        "invocationMetrics": {"guardrailProcessingLatency": 120,
                              "usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 0, "wordPolicyUnits": 0,
                                        "sensitiveInformationPolicyUnits": 1, "sensitiveInformationPolicyFreeUnits": 0,
                                        "contextualGroundingPolicyUnits": 0},
                              "guardrailCoverage": {"textCharacters": {"guarded": 25, "total": 25}}}}
    usage = {"topicPolicyUnits": 0, "contentPolicyUnits": 0, "wordPolicyUnits": 0, "sensitiveInformationPolicyUnits": 1,
             "sensitiveInformationPolicyFreeUnits": 0, "contextualGroundingPolicyUnits": 0}
    stubber.add_response("apply_guardrail", {
        "usage": usage, "action": "GUARDRAIL_INTERVENED", "actionReason": "Guardrail masked.",
        "outputs": [{"text": "Write to {EMAIL}"}], "assessments": [assessment],
        "guardrailCoverage": {"textCharacters": {"guarded": 25, "total": 25}},
        "ResponseMetadata": {"RequestId": "g-1", "HTTPStatusCode": 200}})
    stubber.add_response("apply_guardrail", {"usage": usage, "action": "NONE", "outputs": [], "assessments": [{}]})
    stubber.add_response("apply_guardrail", {"usage": usage, "action": "NONE", "outputs": [], "assessments": [{}]})
    verdict = assistant.check("Write to taro@example.com", guardrail="gr12345678:3", source="OUTPUT")
    assert verdict.intervened and verdict.outputs == ["Write to {EMAIL}"] and verdict.request_id == "g-1"
    assert (verdict.guardrail_id, verdict.version) == ("gr12345678", "3")
    assert verdict.assessments[0]["sensitiveInformationPolicy"]["piiEntities"][0]["type"] == "EMAIL"
    assert verdict.response["actionReason"] == "Guardrail masked." and verdict.response["guardrailCoverage"]
    assert "ResponseMetadata" not in verdict.response
    clean = assistant.check(image=png(), guardrail="arn:aws:bedrock:us-east-1:123456789012:guardrail/gr12345678")
    assert not clean.intervened and clean.outputs == [] and clean.version == "DRAFT"
    both = assistant.check("two pictures", image=[png(), png((64, 64))], guardrail="gr12345678", full=True)
    assert not both.intervened
    first, second, third = (params for _, params in recorder.calls)
    assert first["guardrailIdentifier"] == "gr12345678" and first["guardrailVersion"] == "3" and first["source"] == "OUTPUT"
    assert second["content"] == [{"image": {"format": "png", "source": {"bytes": png()}}}] and second["source"] == "INPUT"
    assert "outputScope" not in first and third["outputScope"] == "FULL"
    assert [list(block) for block in third["content"]] == [["text"], ["image"], ["image"]]


def _documented_errors(operation: str) -> list[tuple[str, int]]:
    return [(e.name, e.metadata["error"]["httpStatusCode"]) for e in SERVICE.operation_model(operation).error_shapes]


@pytest.mark.parametrize(("code", "status"), _documented_errors("InvokeModel"))
def test_every_documented_invoke_model_error_has_its_exception(stubbed: tuple[MultimodalAssistant, Stubber, Recorder],
                                                               code: str, status: int) -> None:
    """Each error botocore's model lists for InvokeModel becomes its own SDK exception with code,
    status and request id; ModelTimeout is retried by the SDK (2 more tries) before it is raised."""
    assistant, stubber, _ = stubbed
    tries = 1 + assistant.model_timeout_retries if code == "ModelTimeoutException" else 1
    for _ in range(tries):
        stubber.add_client_error("invoke_model", code, f"{code} message", status, response_meta={"RequestId": f"r-{code}"})
    with pytest.raises(errors.BedrockServiceError) as info:
        assistant.embed_text("x")
    expected = errors._BY_CODE[code]
    assert type(info.value) is expected and expected is not errors.BedrockServiceError
    assert (info.value.code, info.value.status, info.value.request_id) == (code, status, f"r-{code}")
    assert info.value.operation == "InvokeModel" and info.value.model_id == "amazon.titan-embed-image-v1"
    assert info.value.retryable == (code in ("ThrottlingException", "ModelNotReadyException", "ModelTimeoutException",
                                             "ServiceUnavailableException", "InternalServerException"))


@pytest.mark.parametrize("operation", ["Converse", "ApplyGuardrail", "InvokeModelWithResponseStream", "ConverseStream"])
def test_every_documented_error_of_the_other_operations_is_mapped(operation: str) -> None:
    unmapped = [code for code, _ in _documented_errors(operation) if code not in errors._BY_CODE]
    assert not unmapped


def test_model_timeout_once_then_success(stubbed: tuple[MultimodalAssistant, Stubber, Recorder]) -> None:
    assistant, stubber, _ = stubbed
    stubber.add_client_error("converse", "ModelTimeoutException", "Model has timed out.", 408)
    stubber.add_response("converse", converse_response("late but here", 10, 3))
    waits: list[float] = []
    assistant._sleep = waits.append
    assert assistant.ask("hi").text == "late but here"
    assert len(waits) == 1 and 0 <= waits[0] <= assistant.backoff_base_s
    assert assistant.usage.calls == 1  # the timed-out try produced nothing to count
