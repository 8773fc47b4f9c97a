"""`dtype = "auto"` on a CPU: bf16 where the CPU multiplies bf16 in hardware, fp32 elsewhere, and every
engine's real code path (SigLIP embeddings, the VLM with an image, SDXL text-to-image, CLIPSeg masks,
ViTMatte background removal, ControlNet, the safety checker) serving in bf16 through the server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from conftest import make_client
from images import image_bytes, shape_image
from outcrop.engines import cpu_features
from outcrop.engines.base import pick_dtype
from servers import ThreadServer

EMBED, CHAT, IMAGES = "amazon.titan-embed-image-v1", "amazon.nova-lite-v1:0", "amazon.titan-image-generator-v2:0"
SD3 = "stability.sd3-5-large-v1:0"
BF16_MODELS = f"""
[models."{EMBED}"]
protocol = "titan-embed-image"
uses = "embeddings"
dtype = "bfloat16"

[models."{CHAT}"]
protocol = "converse"
uses = "vision"
dtype = "bfloat16"

[models."{IMAGES}"]
protocol = "titan-image-v2"
uses = "images"
dtype = "bfloat16"

[models."{SD3}"]
protocol = "stability-sd3"
uses = "sd3"
dtype = "bfloat16"
"""
PNG = image_bytes(shape_image(size=(96, 64)))
SQUARE = base64.b64encode(image_bytes(shape_image(size=(512, 512)))).decode()


def test_cpuinfo_flags_that_mean_native_bf16() -> None:
    assert cpu_features.cpuinfo_says_bf16("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n")
    assert cpu_features.cpuinfo_says_bf16("flags\t\t: avx512f amx_bf16 amx_tile\n")
    assert cpu_features.cpuinfo_says_bf16("Features\t: fp asimd sve bf16 i8mm\n")  # Arm (Graviton 3, Apple M2+ Linux)
    assert not cpu_features.cpuinfo_says_bf16("flags\t\t: fpu sse avx2 fma avx512f avx512_vnni\n")
    assert not cpu_features.cpuinfo_says_bf16("Features\t: fp asimd\n")


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_dtype_on_cpu_follows_the_hardware(monkeypatch: pytest.MonkeyPatch, native: bool, expected: Any) -> None:
    monkeypatch.setattr(cpu_features, "native_bf16", lambda: native)
    assert pick_dtype("auto", "cpu") is expected
    assert pick_dtype("float32", "cpu") is torch.float32  # how a user forces fp32


@pytest.fixture(scope="module")
def bf16_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer.for_profile("test", BF16_MODELS, tmp_path_factory.mktemp("bf16")) as server:
        yield server


def test_every_engine_serves_in_bf16(bf16_server: ThreadServer) -> None:
    client = make_client(bf16_server.url, retries={"total_max_attempts": 1}, read_timeout=300)
    both = {"inputText": "a red car", "inputImage": base64.b64encode(PNG).decode()}
    vector = json.loads(client.invoke_model(modelId=EMBED, body=json.dumps(both))["body"].read())["embedding"]
    assert len(vector) == 1024 and abs(sum(v * v for v in vector) - 1) < 1e-2
    answer = client.converse(modelId=CHAT, inferenceConfig={"maxTokens": 8}, messages=[
        {"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": PNG}}}, {"text": "describe"}]}])
    assert answer["usage"]["outputTokens"] >= 1
    for body in [
        {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a car"}, "imageGenerationConfig": {"width": 512, "height": 512, "seed": 1}},
        {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a car", "conditionImage": SQUARE, "controlMode": "CANNY_EDGE"},
         "imageGenerationConfig": {"width": 512, "height": 512, "seed": 1}},
        {"taskType": "INPAINTING", "inPaintingParams": {"image": SQUARE, "maskPrompt": "car", "text": "a boat"}},
        {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": SQUARE}},
    ]:
        images = json.loads(client.invoke_model(modelId=IMAGES, body=json.dumps(body))["body"].read())["images"]
        assert len(images) == 1, body["taskType"]
    sd3_body = {"prompt": "a car", "mode": "image-to-image", "image": SQUARE, "strength": 0.5, "seed": 1}
    assert json.loads(client.invoke_model(modelId=SD3, body=json.dumps(sd3_body))["body"].read())["images"]
    for model_id in (EMBED, CHAT, IMAGES, SD3):
        assert bf16_server.engine(model_id).dtype is torch.bfloat16, model_id
    diffusion, sd3 = bf16_server.engine(IMAGES), bf16_server.engine(SD3)
    pipelines = {"base": diffusion.base, "img2img": diffusion.img2img, "inpaint": diffusion.inpaint,
                 **{f"controlnet {mode}": pipe for mode, pipe in diffusion.controlnets.items()},
                 "sd3": sd3.base, "sd3 img2img": sd3.img2img}
    assert "controlnet canny" in pipelines
    for pipe_name, pipe in pipelines.items():  # the modules themselves, not only the engine's setting
        for name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                assert module.dtype is torch.bfloat16, f"{pipe_name}: {name} runs {module.dtype}"
    companions = {"safety": diffusion.safety, "segmenter": diffusion.segmenter, "matting": diffusion.background}
    for name, part in companions.items():  # the small models around diffusion follow the engine's dtype
        assert part is not None and part.model.dtype is torch.bfloat16, name
