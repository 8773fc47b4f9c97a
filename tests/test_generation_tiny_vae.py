"""The `tiny_vae` option: a TAESD-class tiny autoencoder replaces the full VAE for every SDXL pipeline
(text-to-image, image-to-image, inpainting), loaded as a companion like the other optional models."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from conftest import make_client
from images import b64, image_bytes, shape_image
from servers import ThreadServer

MODEL = "stability.stable-diffusion-xl-v1"
TITAN = "amazon.titan-image-generator-v2:0"


def build_tiny_taesd(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                    num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1)).save_pretrained(folder)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    folder = tmp_path_factory.mktemp("taesd")
    build_tiny_taesd(folder / "taesd")
    engine = ('engine = "diffusion"\nweights = "builtin:tiny-sdxl-images"\ndtype = "float32"\ndevice = "cpu"\n'
              f'options = {{ max_render_side = 64, size_multiple = 16, tiny_vae = "{folder / "taesd"}" }}\n')
    models = (f'[models."{MODEL}"]\nprotocol = "stability-sdxl"\n{engine}\n'
              f'[models."{TITAN}"]\nprotocol = "titan-image-v2"\n{engine}')
    with ThreadServer.for_profile("test", models, folder) as running:
        yield running


def decoded(artifact: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(artifact)))


def test_every_pipeline_decodes_with_the_tiny_autoencoder(server: ThreadServer) -> None:
    engine = server.engine(MODEL)
    assert type(engine.base.vae).__name__ == "AutoencoderTiny"
    assert engine.img2img.vae is engine.base.vae and engine.inpaint.vae is engine.base.vae


def test_text_to_image_and_image_to_image_answer_with_the_requested_size(server: ThreadServer) -> None:
    client = make_client(server.url)
    body = json.loads(client.invoke_model(modelId=MODEL, body=json.dumps(
        {"text_prompts": [{"text": "a lighthouse"}], "width": 1024, "height": 1024, "seed": 3, "steps": 10}))["body"].read())
    assert decoded(body["artifacts"][0]["base64"]).size == (1024, 1024)
    body = json.loads(client.invoke_model(modelId=MODEL, body=json.dumps(
        {"text_prompts": [{"text": "a lighthouse at night"}], "init_image": b64(image_bytes(shape_image(size=(1024, 1024)))),
         "image_strength": 0.4, "seed": 3, "steps": 10}))["body"].read())
    assert decoded(body["artifacts"][0]["base64"]).size == (1024, 1024)


def test_inpainting_runs_through_the_tiny_autoencoder(server: ThreadServer) -> None:
    mask = Image.new("RGB", (512, 512), "black")
    mask.paste(Image.new("RGB", (256, 256), "white"), (128, 128))
    client = make_client(server.url)
    body = json.loads(client.invoke_model(modelId=TITAN, body=json.dumps(
        {"taskType": "INPAINTING", "inPaintingParams": {"text": "a red car", "image": b64(image_bytes(shape_image(size=(512, 512)))),
                                                        "maskImage": b64(image_bytes(mask))},
         "imageGenerationConfig": {"seed": 1}}))["body"].read())
    assert decoded(body["images"][0]).size == (512, 512)
