"""Titan Image Generator v1/v2 and Nova Canvas through a real server and real boto3 (tiny random-weight SDXL)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from generation_helpers import invoke, png
from images import b64, image_bytes, shape_image
from seed import image_snippets
from servers import ServerProcess

V1, V2, NOVA = "amazon.titan-image-generator-v1", "amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0"
PICTURE = b64(image_bytes(shape_image(size=(96, 64))))


def mask_b64(size: tuple[int, int] = (96, 64)) -> str:
    mask = Image.new("RGB", size, (255, 255, 255))
    mask.paste((0, 0, 0), (20, 10, 70, 50))  # black = inside the mask
    return b64(image_bytes(mask))


def seed_namespace(bedrock, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    (tmp_path / "input_image.png").write_bytes(image_bytes(shape_image(size=(96, 64))))
    return {"client": bedrock, "mask_image": mask_b64(), "json": __import__("json"), "base64": base64}


def test_seed_text_image_snippet_verbatim(bedrock, tmp_path: Path) -> None:
    namespace = seed_namespace(bedrock, tmp_path)
    exec(image_snippets.TITAN_TEXT_IMAGE, namespace)
    image = Image.open(io.BytesIO(namespace["image_data"]))
    assert image.format == "PNG" and image.size == (1024, 1024)


def test_seed_image_variation_snippet_verbatim(bedrock, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = seed_namespace(bedrock, tmp_path)
    exec(image_snippets.TITAN_IMAGE_VARIATION, namespace)
    import json

    images = json.loads(namespace["response"]["body"].read())["images"]
    assert len(images) == 3 and all(png(i).size == (1024, 1024) for i in images)
    assert len(set(images)) == 3  # seeds seed, seed+1, seed+2


def test_seed_inpainting_snippet_is_rejected_like_bedrock(bedrock_no_retry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = seed_namespace(bedrock_no_retry, tmp_path)
    exec("with open('input_image.png', 'rb') as f:\n    input_image = base64.b64encode(f.read()).decode()\n", namespace)
    with pytest.raises(bedrock_no_retry.exceptions.ValidationException) as caught:
        exec(image_snippets.TITAN_INPAINTING, namespace)
    assert "Exactly one of" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("which", ["maskImage", "maskPrompt"])
def test_seed_inpainting_with_one_mask_works(bedrock, tmp_path: Path, monkeypatch, which: str) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = seed_namespace(bedrock, tmp_path)
    exec("with open('input_image.png', 'rb') as f:\n    input_image = base64.b64encode(f.read()).decode()\n", namespace)
    drop = "maskPrompt" if which == "maskImage" else "maskImage"
    snippet = "\n".join(line for line in image_snippets.TITAN_INPAINTING.splitlines() if f'"{drop}"' not in line)
    exec(snippet, namespace)
    import json

    body = json.loads(namespace["response"]["body"].read())
    assert png(body["images"][0]).size == (96, 64)


def test_text_image_determinism_and_negative_text(bedrock) -> None:
    def run(**extra):  # type: ignore[no-untyped-def]
        params = {"text": "a lighthouse", **extra}
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": params,
                "imageGenerationConfig": {"seed": 11, "width": 512, "height": 512, "numberOfImages": 2}}
        return invoke(bedrock, V2, body)["images"]

    a, b, c = run(), run(), run(negativeText="fog")
    assert a == b and a != c and a[0] != a[1]


@pytest.mark.parametrize("model", [V2, NOVA])
@pytest.mark.parametrize("mode", ["CANNY_EDGE", "SEGMENTATION"])
def test_condition_image(bedrock, model: str, mode: str) -> None:
    body = {"taskType": "TEXT_IMAGE", "textToImageParams": {
        "text": "a house", "conditionImage": PICTURE, "controlMode": mode, "controlStrength": 0.5},
        "imageGenerationConfig": {"width": 512, "height": 512}}
    assert png(invoke(bedrock, model, body)["images"][0]).size == (512, 512)


@pytest.mark.parametrize("model", [V1, V2, NOVA])
def test_outpainting_both_modes(bedrock, model: str) -> None:
    outputs = []
    for mode in ("DEFAULT", "PRECISE"):
        body = {"taskType": "OUTPAINTING", "outPaintingParams": {
            "text": "a garden", "image": PICTURE, "maskImage": mask_b64(), "outPaintingMode": mode}}
        outputs.append(invoke(bedrock, model, body)["images"][0])
    assert all(png(o).size == (96, 64) for o in outputs) and outputs[0] != outputs[1]


def test_inpainting_return_mask(bedrock) -> None:
    body = {"taskType": "INPAINTING", "inPaintingParams": {
        "text": "a boat", "image": PICTURE, "maskPrompt": "the red ball", "returnMask": True}}
    result = invoke(bedrock, NOVA, body)
    assert png(result["maskImage"]).size == (96, 64)


@pytest.mark.parametrize("model", [V2, NOVA])
def test_background_removal_gives_alpha(bedrock, model: str) -> None:
    body = {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": PICTURE}}
    image = png(invoke(bedrock, model, body)["images"][0])
    assert image.mode == "RGBA" and image.size == (96, 64)


@pytest.mark.parametrize("reference", [False, True])
def test_color_guided_generation(bedrock, reference: bool) -> None:
    params = {"text": "a bowl of fruit", "colors": ["#FF0000", "#00ff00", "#0000FF"]}
    if reference:
        params["referenceImage"] = PICTURE
    body = {"taskType": "COLOR_GUIDED_GENERATION", "colorGuidedGenerationParams": params,
            "imageGenerationConfig": {"width": 768, "height": 1152, "quality": "premium", "cfgScale": 10.0}}
    assert png(invoke(bedrock, V2, body)["images"][0]).size == (768, 1152)


def test_nova_free_sizes(bedrock) -> None:
    body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a fox"},
            "imageGenerationConfig": {"width": 2048, "height": 512}}
    assert png(invoke(bedrock, NOVA, body)["images"][0]).size == (2048, 512)


def text_image(**config):  # type: ignore[no-untyped-def]
    return {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cat"}, "imageGenerationConfig": config}


BAD = {
    "v1 has no background removal": (V1, {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": PICTURE}},
                                     "BACKGROUND_REMOVAL"),
    "v1 has no color guidance": (V1, {"taskType": "COLOR_GUIDED_GENERATION", "colorGuidedGenerationParams": {
        "text": "x", "colors": ["#000000"]}}, "COLOR_GUIDED_GENERATION"),
    "nova has no try-on here": (NOVA, {"taskType": "VIRTUAL_TRY_ON"}, "VIRTUAL_TRY_ON"),
    "v1 has no condition image": (V1, {"taskType": "TEXT_IMAGE", "textToImageParams": {
        "text": "x", "conditionImage": PICTURE}}, "conditionImage"),
    "control mode without image": (V2, {"taskType": "TEXT_IMAGE", "textToImageParams": {
        "text": "x", "controlMode": "CANNY_EDGE"}}, "conditionImage"),
    "titan size off the list": (V1, text_image(width=1000, height=1000), "1000x1000"),
    "nova size not /16": (NOVA, text_image(width=1000, height=1000), "divisible by 16"),
    "too many images": (V2, text_image(numberOfImages=6), "numberOfImages"),
    "cfg too low": (V2, text_image(cfgScale=1.0), "cfgScale"),
    "titan seed too big": (V2, text_image(seed=2_147_483_647), "seed"),
    "nova seed too big": (NOVA, text_image(seed=858_993_460), "seed"),
    "similarity too low": (V1, {"taskType": "IMAGE_VARIATION", "imageVariationParams": {
        "images": [PICTURE], "similarityStrength": 0.1}}, "similarityStrength"),
    "both masks": (V2, {"taskType": "INPAINTING", "inPaintingParams": {
        "image": PICTURE, "maskImage": mask_b64(), "maskPrompt": "ball"}}, "both"),
    "neither mask": (V2, {"taskType": "INPAINTING", "inPaintingParams": {"image": PICTURE}}, "neither"),
    "mask size differs": (V2, {"taskType": "INPAINTING", "inPaintingParams": {
        "image": PICTURE, "maskImage": mask_b64((64, 64))}}, "same size"),
    "empty text": (V1, {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": ""}}, "minLength"),
    "titan text too long": (V1, {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x" * 513}}, "maxLength: 512"),
    "nova text too long": (NOVA, {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "x" * 1025}}, "maxLength: 1024"),
    "bad colour": (V2, {"taskType": "COLOR_GUIDED_GENERATION", "colorGuidedGenerationParams": {
        "text": "x", "colors": ["red"]}}, "pattern"),
    "not an image": (V1, {"taskType": "IMAGE_VARIATION", "imageVariationParams": {
        "images": [base64.b64encode(b"GIF89a-nope").decode()]}}, "image"),
    "missing params": (V1, {"taskType": "TEXT_IMAGE"}, "textToImageParams"),
    "config on background removal": (V2, {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": PICTURE},
                                          "imageGenerationConfig": {"numberOfImages": 1}}, "imageGenerationConfig"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_validation_exception(bedrock_no_retry, case: str) -> None:
    model, body, words = BAD[case]
    with pytest.raises(bedrock_no_retry.exceptions.ValidationException) as caught:
        invoke(bedrock_no_retry, model, body)
    assert words in caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def flagging_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The test profile with the safety classifier's threshold forced so that every image is flagged."""
    from outcrop.registry.profiles import __file__ as profiles_init

    folder = tmp_path_factory.mktemp("flagging")
    text = (Path(profiles_init).parent / "test" / "images.toml").read_text()
    (folder / "models.toml").write_text(text.replace("safety_threshold = 1.0", "safety_threshold = -2.0"))
    proc = ServerProcess("--profile", "test", "--models", str(folder / "models.toml"), log=folder / "server.log")
    proc.start()
    yield proc
    proc.stop()


def test_flagged_outputs(flagging_server) -> None:
    from conftest import make_client

    client = make_client(flagging_server.url, retries={"max_attempts": 1, "mode": "standard"})
    artifact = invoke(client, "stability.stable-diffusion-xl-v1", {"text_prompts": [{"text": "x"}], "seed": 4})["artifacts"][0]
    assert artifact["finishReason"] == "CONTENT_FILTERED"
    assert png(artifact["base64"]).getextrema() == ((0, 0), (0, 0), (0, 0))  # blacked out
    with pytest.raises(client.exceptions.ValidationException) as caught:
        invoke(client, V1, text_image(width=512, height=512))
    assert "content filters" in caught.value.response["Error"]["Message"]
