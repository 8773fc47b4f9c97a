"""Non-English Titan/Nova `maskPrompt`s are translated to English by the profile's chat model before
CLIPSeg segments them (protocols/mask_translation.py). The test profile's VLM has random weights, so
the translation itself is noise; what is tested is the plumbing: one translation call through the
real chat engine, and the mask drawn from its answer. Real app in a thread, real boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from conftest import make_client
from generation_helpers import invoke, png
from images import b64, image_bytes, shape_image
from servers import ThreadServer

CANVAS = "amazon.nova-canvas-v1:0"
TRANSLATOR = "amazon.nova-lite-v1:0"  # the test profile's images.toml names it as mask_prompt_translator
PICTURE = b64(image_bytes(shape_image(size=(96, 64))))


@pytest.fixture(scope="module")
def app_server() -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test") as server:
        yield server


def engine_of(server: ThreadServer, model_id: str) -> Any:
    return server.engine(model_id)


@pytest.fixture(scope="module")
def recorded(app_server: ThreadServer) -> dict[str, list[str]]:
    """What the translator answered and what text CLIPSeg was asked to segment, per request."""
    seen: dict[str, list[str]] = {"answers": [], "segmented": []}
    images, chat = engine_of(app_server, CANVAS), engine_of(app_server, TRANSLATOR)
    segment = images.segmenter.mask

    def mask(image: Image.Image, text: str) -> Image.Image:
        seen["segmented"].append(text)
        return segment(image, text)

    images.segmenter.mask = mask
    generate = chat.generate

    async def answered(task: Any) -> Any:
        result = await generate(task)
        seen["answers"].append(result.text)
        return result

    chat.generate = answered
    return seen


def inpaint(server: ThreadServer, mask_prompt: str) -> dict[str, Any]:
    client = make_client(server.url, retries={"total_max_attempts": 1}, read_timeout=120)
    return invoke(client, CANVAS, {"taskType": "INPAINTING", "inPaintingParams": {
        "text": "a bicycle", "image": PICTURE, "maskPrompt": mask_prompt, "returnMask": True}})


def test_japanese_mask_prompt_is_translated_once_and_segmented_in_english(app_server, recorded) -> None:
    from outcrop.protocols.mask_translation import english_phrase

    translator = engine_of(app_server, TRANSLATOR)
    runs_before, answers_before = translator.scheduler.items_run, len(recorded["answers"])
    result = inpaint(app_server, "車両")
    assert png(result["images"][0]).size == (96, 64) and png(result["maskImage"]).size == (96, 64)
    assert translator.scheduler.items_run - runs_before == 1  # exactly one translation ran on the chat engine
    assert len(recorded["answers"]) == answers_before + 1
    phrase = english_phrase(recorded["answers"][-1])
    assert phrase and phrase != "車両"  # the tiny model's greedy answer is noise, but deterministic and non-empty
    assert recorded["segmented"][-1] == phrase  # CLIPSeg was given the translation, not the Japanese


def test_english_mask_prompt_is_not_translated(app_server, recorded) -> None:
    translator = engine_of(app_server, TRANSLATOR)
    runs_before = translator.scheduler.items_run
    inpaint(app_server, "the red ball")
    assert translator.scheduler.items_run == runs_before
    assert recorded["segmented"][-1] == "the red ball"


@pytest.mark.parametrize(("answer", "phrase"), [
    ("vehicle", "vehicle"), ('  "the car."\nIt is a car.', "the car"), ("「車両」。", "車両"), ("\n\n", ""),
])
def test_english_phrase_takes_the_first_line_without_quotes(answer: str, phrase: str) -> None:
    from outcrop.protocols.mask_translation import english_phrase

    assert english_phrase(answer) == phrase


@pytest.mark.parametrize("helper", ["acme.not-served-v1", "amazon.titan-embed-image-v1"])
def test_misconfigured_translator_is_the_deployments_error_not_the_callers(helper: str) -> None:
    """A translator id the profile does not serve, or one that is not a chat model, is a 424 from the
    deployment: the caller's request was valid, so it must not read as a ValidationException."""
    import asyncio

    from outcrop.config import Settings
    from outcrop.errors import ModelErrorException
    from outcrop.runtime import Runtime

    runtime = Runtime.build(Settings.from_env(profile="test"))
    with pytest.raises(ModelErrorException, match=helper):
        asyncio.run(runtime.chat_engine(helper))
