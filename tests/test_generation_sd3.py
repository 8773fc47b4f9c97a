"""Stability SD3.5 Large, Stable Image Core and Ultra bodies through boto3: on the test profile's tiny
SD3 pipeline, and (flagged output) on the SDXL engine the cpu profile maps these ids onto."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from conftest import make_client
from images import b64, image_bytes, shape_image
from servers import ThreadServer

SD35, CORE, ULTRA = "stability.sd3-5-large-v1:0", "stability.stable-image-core-v1:1", "stability.stable-image-ultra-v1:1"


def generate(client, model: str, **body):  # type: ignore[no-untyped-def]
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(response["body"].read())


def refused(client, model: str, body: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=model, body=json.dumps(body))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]["Message"]


def decoded(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data)))


@pytest.mark.parametrize(("model", "ratio", "size"), [(SD35, None, (1024, 1024)), (CORE, "16:9", (1344, 768)),
                                                      (ULTRA, "9:21", (640, 1536)), (SD35, "4:5", (896, 1088))])
def test_text_to_image_shape_and_sizes(bedrock, model: str, ratio: str | None, size: tuple[int, int]) -> None:
    body = {"prompt": "a red car", **({"aspect_ratio": ratio} if ratio else {})}
    answer = generate(bedrock, model, **body)
    assert set(answer) == {"seeds", "finish_reasons", "images"}
    assert answer["finish_reasons"] == [None] and len(answer["seeds"]) == 1 and 1 <= answer["seeds"][0] <= 4_294_967_294
    image = decoded(answer["images"][0])
    assert image.format == "PNG" and image.size == size


def test_seed_makes_it_reproducible_and_negative_prompt_counts(bedrock) -> None:
    first = generate(bedrock, SD35, prompt="夕日に照らされた山", seed=42)
    again = generate(bedrock, SD35, prompt="夕日に照らされた山", seed=42)
    other = generate(bedrock, SD35, prompt="夕日に照らされた山", seed=43)
    negative = generate(bedrock, SD35, prompt="夕日に照らされた山", seed=42, negative_prompt="blurry")
    assert first["seeds"] == [42] and first["images"] == again["images"]
    assert other["images"] != first["images"] and negative["images"] != first["images"]


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_output_format(bedrock, fmt: str, pil: str) -> None:
    answer = generate(bedrock, CORE, prompt="a blue sky", seed=1, output_format=fmt)
    assert decoded(answer["images"][0]).format == pil


def test_image_to_image(bedrock) -> None:
    source = b64(image_bytes(shape_image(size=(320, 192))))
    answer = generate(bedrock, SD35, prompt="a cat", mode="image-to-image", image=source, strength=0.6, seed=7)
    assert decoded(answer["images"][0]).size == (320, 192)
    weak = generate(bedrock, SD35, prompt="a cat", mode="image-to-image", image=source, strength=0.1, seed=7)
    assert weak["images"] != answer["images"]
    ultra = generate(bedrock, ULTRA, prompt="a cat", image=source, strength=0.5, seed=7)
    assert decoded(ultra["images"][0]).size == (320, 192)


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (SD35, {}, "#: required key [prompt] not found"),
        (SD35, {"prompt": "x" * 10_001}, "#/prompt: expected maxLength: 10000, actual: 10001"),
        (SD35, {"prompt": "x", "aspect_ratio": "4:3"}, '#/aspect_ratio: "4:3" is not a valid enum value'),
        (SD35, {"prompt": "x", "seed": 4_294_967_295}, "#/seed: 4294967295 is not less or equal to 4294967294"),
        (SD35, {"prompt": "x", "output_format": "gif"}, '#/output_format: "gif" is not a valid enum value'),
        (SD35, {"prompt": "x", "mode": "inpaint"}, '#/mode: "inpaint" is not a valid enum value'),
        (SD35, {"prompt": "x", "mode": "image-to-image", "strength": 0.5}, "#: required key [image] not found"),
        (SD35, {"prompt": "x", "mode": "image-to-image", "image": b64(image_bytes())}, "#: required key [strength] not found"),
        (SD35, {"prompt": "x", "strength": 1.5}, "#/strength: 1.5 is not less or equal to 1"),
        (SD35, {"prompt": "x", "image": b64(image_bytes())}, "image and strength are valid for image-to-image requests only"),
        (SD35, {"prompt": "x", "mode": "image-to-image", "image": b64(image_bytes()), "strength": 0.5, "aspect_ratio": "1:1"},
         "aspect_ratio is valid for text-to-image requests only"),
        (SD35, {"prompt": "x", "mode": "image-to-image", "image": b64(image_bytes(shape_image(size=(32, 200)))), "strength": 0.5},
         "every side must be at least 64 pixels"),
        (SD35, {"prompt": "x", "mode": "image-to-image", "image": "bm90IGFuIGltYWdl", "strength": 0.5}, "image is not a valid image"),
        (SD35, {"prompt": "x", "cfg_scale": 7}, "#: extraneous key [cfg_scale] is not permitted"),
        (CORE, {"prompt": "x", "image": b64(image_bytes()), "strength": 0.5}, "#: extraneous key [image] is not permitted"),
        (ULTRA, {"prompt": "x", "mode": "image-to-image"}, "#: extraneous key [mode] is not permitted"),
        (SD35, {"text_prompts": [{"text": "x"}]}, "#: 2 schema violations found"),
    ],
)
def test_validation(bedrock, model: str, body: dict, message: str) -> None:
    assert message in refused(bedrock, model, body)


def test_on_the_sdxl_engine_a_flagged_image_is_filtered(tmp_path: Path) -> None:
    """The cpu profile's mapping (SD3 bodies on the SDXL engine), with a safety threshold that flags every image."""
    models = (f'[models."{SD35}"]\nprotocol = "stability-sd3"\nuses = "images"\n'
              f'[models."{SD35}".options]\nsafety_threshold = -2.0\n'
              f'[models."{CORE}"]\nprotocol = "stability-image-core"\nuses = "images"\n')
    with ThreadServer.for_profile("test", models, tmp_path) as server:
        client = make_client(server.url)
        assert generate(client, SD35, prompt="a red car", seed=3) == {"finish_reasons": ["Filter reason: output image"]}
        answer = generate(client, CORE, prompt="a red car", seed=3, aspect_ratio="3:2")
        assert answer["finish_reasons"] == [None] and decoded(answer["images"][0]).size == (1216, 832)
