"""The CLI's in-process transport (`outcrop.cli.inprocess`): the SDK over boto3 clients whose requests
reach the server's own app without a socket. Same answers as over HTTP, Bedrock's errors with their
status and request id, streams that arrive in pieces and can be left early, and the control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from images import image_bytes, shape_image
from outcrop import MultimodalAssistant
from outcrop.cli.inprocess import InProcessServer
from outcrop.config import Settings
from outcrop.sdk import ValidationError
from servers import ServerProcess

NOVA_LITE = "amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with InProcessServer(Settings.from_env(profile="test", data_dir=tmp_path_factory.mktemp("inprocess"))) as server:
        yield server


@pytest.fixture(scope="module")
def inproc(local: InProcessServer) -> MultimodalAssistant:
    return MultimodalAssistant(client=local.client())


def picture(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    return image_bytes(shape_image(color, size=(128, 128)))


def test_the_same_answers_as_over_http(inproc: MultimodalAssistant, server: ServerProcess) -> None:
    remote = MultimodalAssistant(endpoint_url=server.url)
    assert inproc.embed_text("赤い車", dimensions=256).vector == remote.embed_text("赤い車", dimensions=256).vector
    here = inproc.generate_images("a lighthouse", steps=10, seed=11)
    there = remote.generate_images("a lighthouse", steps=10, seed=11)
    assert here.data == there.data and here.data.startswith(b"\x89PNG") and here.seed == 11
    question = {"question": "what shape?", "max_tokens": 6, "model": NOVA_LITE}
    assert inproc.describe(picture(), **question).text == remote.describe(picture(), **question).text


def test_bedrock_errors_keep_code_status_and_request_id(inproc: MultimodalAssistant) -> None:
    with pytest.raises(ValidationError) as refused:
        inproc.describe(picture(), max_tokens=4, model="amazon.titan-embed-image-v1")
    assert refused.value.code == "ValidationException" and refused.value.status == 400
    assert refused.value.request_id and "doesn't support the model" in refused.value.message
    assert inproc.embed_text("still serving").dimensions == 1024  # a refusal changes nothing


def test_streams_arrive_in_pieces_and_can_be_left_early(inproc: MultimodalAssistant) -> None:
    stream = inproc.ask_stream("Describe this image.", images=picture(), max_tokens=12, model=NOVA_LITE)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == stream.text and 0 < stream.usage.output_tokens <= 12
    with inproc.ask_stream("Describe this image.", images=picture(), max_tokens=200, model=NOVA_LITE) as early:
        assert next(iter(early))
    # The app saw the client go; the next request is served as usual.
    assert inproc.describe(picture(), max_tokens=4, model=NOVA_LITE).usage.output_tokens > 0


def test_control_plane_and_check_with_several_images(local: InProcessServer, inproc: MultimodalAssistant) -> None:
    control = local.client("bedrock")
    guardrail = control.create_guardrail(
        name="inprocess", blockedInputMessaging="no", blockedOutputsMessaging="no",
        sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]})
    verdict = inproc.check("write to taro@example.com", image=[picture(), picture((40, 40, 200))],
                           guardrail=guardrail["guardrailId"], source="OUTPUT", full=True)
    assert verdict.intervened and verdict.outputs == ["write to {EMAIL}"]
    assert verdict.response["guardrailCoverage"]["images"]["total"] == 2 and "usage" in verdict.response
    assert "ResponseMetadata" not in verdict.response
