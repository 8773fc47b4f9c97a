"""stability.stable-diffusion-xl-v1 through a real server and real boto3 clients (tiny random-weight SDXL)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from generation_helpers import invoke, png
from images import b64, image_bytes, shape_image
from seed import image_snippets

MODEL = "stability.stable-diffusion-xl-v1"


def sdxl(client, **body):  # type: ignore[no-untyped-def]
    body.setdefault("text_prompts", [{"text": "a red car"}])
    body.setdefault("width", 1024)
    body.setdefault("height", 1024)
    return invoke(client, MODEL, body)


def test_seed_text_to_image_snippet_verbatim(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(image_snippets.SDXL_TEXT_TO_IMAGE, namespace)
    image = png(base64.b64encode((tmp_path / "generated_image.png").read_bytes()).decode())
    assert image.size == (1024, 1024)
    result = namespace["result"]
    assert result["result"] == "success"
    assert result["artifacts"][0]["seed"] == 42 and result["artifacts"][0]["finishReason"] == "SUCCESS"


def test_seed_negative_prompt_body_verbatim(bedrock) -> None:
    namespace: dict = {}
    exec(image_snippets.SDXL_NEGATIVE_BODY, namespace)
    body = namespace["body"]
    result = invoke(bedrock, MODEL, body)
    artifact = result["artifacts"][0]
    assert png(artifact["base64"]).size == (1024, 1024)  # Bedrock's default size
    assert artifact["seed"] > 0  # seed 0/absent = random; the seed used comes back


def test_same_seed_same_bytes_different_seed_different(bedrock) -> None:
    a = sdxl(bedrock, seed=7)["artifacts"][0]
    b = sdxl(bedrock, seed=7)["artifacts"][0]
    c = sdxl(bedrock, seed=8)["artifacts"][0]
    assert a["base64"] == b["base64"]
    assert a["base64"] != c["base64"]


def test_random_seed_is_reported_and_reproduces(bedrock) -> None:
    first = sdxl(bedrock, seed=0)["artifacts"][0]
    again = sdxl(bedrock, seed=first["seed"])["artifacts"][0]
    assert again["base64"] == first["base64"]


def test_weights_and_negative_prompts_change_the_output(bedrock) -> None:
    plain = sdxl(bedrock, seed=3, text_prompts=[{"text": "a red car"}])["artifacts"][0]["base64"]
    negative = sdxl(bedrock, seed=3, text_prompts=[{"text": "a red car"}, {"text": "blurry", "weight": -1.0}])
    mixed = sdxl(bedrock, seed=3, text_prompts=[{"text": "a red car", "weight": 1.0}, {"text": "a blue sky", "weight": 0.5}])
    heavier = sdxl(bedrock, seed=3, text_prompts=[{"text": "a red car", "weight": 1.0}, {"text": "a blue sky", "weight": 2.0}])
    outputs = {plain, negative["artifacts"][0]["base64"], mixed["artifacts"][0]["base64"], heavier["artifacts"][0]["base64"]}
    assert len(outputs) == 4


@pytest.mark.parametrize("sampler", ["DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2",
                                     "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"])
def test_every_sampler(bedrock, sampler: str) -> None:
    result = sdxl(bedrock, seed=5, sampler=sampler, width=640, height=1536, style_preset="anime",
                  clip_guidance_preset="FAST_BLUE", steps=150, cfg_scale=35)
    assert png(result["artifacts"][0]["base64"]).size == (640, 1536)


def test_image_to_image_both_modes(bedrock) -> None:
    init = b64(image_bytes(shape_image(size=(96, 64))))
    strong = sdxl(bedrock, seed=1, init_image=init, image_strength=0.9)["artifacts"][0]["base64"]
    weak = sdxl(bedrock, seed=1, init_image=init, image_strength=0.1)["artifacts"][0]["base64"]
    scheduled = sdxl(bedrock, seed=1, init_image=init, init_image_mode="STEP_SCHEDULE", step_schedule_start=0.6,
                     step_schedule_end=0.01)["artifacts"][0]["base64"]
    assert png(strong).size == (96, 64) and png(scheduled).size == (96, 64)
    assert strong != weak


@pytest.mark.parametrize("source", ["MASK_IMAGE_WHITE", "MASK_IMAGE_BLACK", "INIT_IMAGE_ALPHA"])
def test_masking(bedrock, source: str) -> None:
    from PIL import Image

    init_image = shape_image(size=(96, 64))
    if source == "INIT_IMAGE_ALPHA":
        init_image = init_image.convert("RGBA")
        init_image.putalpha(shape_image((0, 0, 0), size=(96, 64)).convert("L"))
    mask = Image.new("L", (96, 64), 0)
    mask.paste(255, (20, 10, 70, 50))
    body = dict(seed=2, init_image=b64(image_bytes(init_image)), mask_source=source)
    if source != "INIT_IMAGE_ALPHA":
        body["mask_image"] = b64(image_bytes(mask.convert("RGB")))
    assert png(sdxl(bedrock, **body)["artifacts"][0]["base64"]).size == (96, 64)


def test_accept_image_png_returns_raw_png(bedrock) -> None:
    import json

    response = bedrock.invoke_model(modelId=MODEL, accept="image/png", body=json.dumps(
        {"text_prompts": [{"text": "a cat"}], "seed": 9}))
    assert response["contentType"] == "image/png"
    assert response["body"].read().startswith(b"\x89PNG")
    assert response["ResponseMetadata"]["HTTPHeaders"]["seed"] == "9"


BAD = {
    "size off the list": ({"width": 1000, "height": 1000}, "1000x1000"),
    "steps too many": ({"steps": 151}, "steps"),
    "steps too few": ({"steps": 9}, "steps"),
    "cfg too high": ({"cfg_scale": 35.5}, "cfg_scale"),
    "negative seed": ({"seed": -1}, "seed"),
    "seed too big": ({"seed": 4294967296}, "seed"),
    "samples over 1": ({"samples": 2}, "samples"),
    "unknown sampler": ({"sampler": "K_FANCY"}, "sampler"),
    "unknown style": ({"style_preset": "vaporwave"}, "style_preset"),
    "empty prompt": ({"text_prompts": [{"text": "  "}]}, "empty"),
    "over-long prompt": ({"text_prompts": [{"text": "x" * 2001}]}, "maxLength"),
    "no prompts": ({"text_prompts": []}, "text_prompts"),
    "only prompt negative": ({"text_prompts": [{"text": "a cat", "weight": -1.0}]}, "positive weight"),
    "non-image init": ({"init_image": base64.b64encode(b"not an image at all").decode()}, "init_image"),
    "mask without image": ({"init_image": b64(image_bytes(shape_image(size=(96, 64)))), "mask_source": "MASK_IMAGE_WHITE"},
                           "mask_image"),
    "mask size differs": ({"init_image": b64(image_bytes(shape_image(size=(96, 64)))), "mask_source": "MASK_IMAGE_BLACK",
                           "mask_image": b64(image_bytes(shape_image(size=(64, 64))))}, "same size"),
    "alpha mask without alpha": ({"init_image": b64(image_bytes(shape_image(size=(96, 64)))),
                                  "mask_source": "INIT_IMAGE_ALPHA"}, "alpha"),
    "unknown key": ({"prompt": "a cat"}, "extraneous key [prompt]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_validation_exception(bedrock_no_retry, case: str) -> None:
    body, words = BAD[case]
    with pytest.raises(bedrock_no_retry.exceptions.ValidationException) as caught:
        sdxl(bedrock_no_retry, **body)
    assert words in caught.value.response["Error"]["Message"]


def test_streaming_is_refused(bedrock_no_retry) -> None:
    import json

    with pytest.raises(bedrock_no_retry.exceptions.ValidationException):
        bedrock_no_retry.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps({"text_prompts": [{"text": "x"}]}))
