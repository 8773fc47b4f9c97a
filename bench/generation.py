"""Seconds per image through the outcrop server (boto3, HTTP) vs the same diffusers pipeline called directly.

    python bench/generation.py                      # test profile's tiny SDXL, in this run
    python bench/generation.py --sdxl-random-1024   # SDXL-architecture random weights, 1024², 30 steps, fp16
                                                    # (needs a GPU; builds the full-size model from its real config)
    python bench/generation.py --cpu-seed-request   # the seed's SDXL request (1024², 50 steps) verbatim, through
                                                    # boto3's default client (60 s read timeout), against the cpu
                                                    # profile's engine settings on full-size SDXL-Turbo-architecture
                                                    # random weights (fp32, CPU), safety checker included

Prints direct s/image, server s/image, their ratio (goal ≤ 1.05×) and images/s at numberOfImages 1 and 4.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The real SDXL 1.0 base configuration (stabilityai/stable-diffusion-xl-base-1.0 unet/config.json), written out.
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280), layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(5, 10, 20),
    use_linear_projection=True, transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
    addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
)
SDXL_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                layers_per_block=2, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
              max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu")
CLIP_G = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
              max_position_embeddings=77, projection_dim=1280, hidden_act="gelu")


def build_full_sdxl(folder: Path, dtype: str) -> None:
    """SDXL 1.0 architecture at full size, random weights (no download possible here)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from outcrop.testing.tiny_diffusion import build_clip_tokenizer

    torch.manual_seed(0)
    kind = getattr(torch, dtype)
    tokenizer = build_clip_tokenizer()
    pipe = StableDiffusionXLPipeline(
        vae=AutoencoderKL(**SDXL_VAE), text_encoder=CLIPTextModel(CLIPTextConfig(**CLIP_L)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_G)), tokenizer=tokenizer, tokenizer_2=tokenizer,
        unet=UNet2DConditionModel(**SDXL_UNET),
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                         steps_offset=1, timestep_spacing="leading"),
    )
    pipe.to(kind).save_pretrained(folder)


def direct(weights: Path, dtype: str, device: str, size: int, steps: int, count: int, guidance: float, render: int) -> float:
    """Seconds per image calling diffusers directly (after one warm-up)."""
    import torch
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(weights, dtype=getattr(torch, dtype)).to(device)
    pipe.set_progress_bar_config(disable=True)

    def once() -> None:
        generators = [torch.Generator("cpu").manual_seed(i) for i in range(count)]
        images = pipe("a red car", width=render, height=render, num_inference_steps=steps, guidance_scale=guidance,
                      num_images_per_prompt=count, generator=generators).images
        for image in images:  # the server returns PNGs of the requested size: do the same work here
            image.resize((size, size)).save(io.BytesIO(), "PNG")

    once()
    start = time.perf_counter()
    once()
    return (time.perf_counter() - start) / count


def through_server(models_file: Path | None, size: int, steps: int, count: int, cache: str) -> float:
    from conftest import make_client
    from servers import ServerProcess

    args = ["--profile", "test"] + (["--models", str(models_file)] if models_file else [])
    proc = ServerProcess(*args, env={"OUTCROP_CACHE_DIR": cache}).start()
    try:
        client = make_client(proc.url, read_timeout=600, retries={"max_attempts": 1})
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a red car"},
                "imageGenerationConfig": {"numberOfImages": count, "width": size, "height": size, "seed": 1,
                                          "quality": "premium" if steps >= 50 else "standard"}}
        model = "amazon.nova-canvas-v1:0"

        def once() -> None:
            json.loads(client.invoke_model(modelId=model, body=json.dumps(body))["body"].read())

        once()
        start = time.perf_counter()
        once()
        return (time.perf_counter() - start) / count
    finally:
        proc.stop()


SEED_SDXL_BODY = {  # the seed's first snippet, verbatim
    "text_prompts": [{"text": "夕日に照らされた穏やかな山の風景、デジタルアート", "weight": 1.0}],
    "cfg_scale": 7, "steps": 50, "seed": 42, "width": 1024, "height": 1024,
}


def build_full_safety_checker(folder: Path) -> None:
    """diffusers' safety checker at full size (CLIP ViT-L/14 vision tower), random weights."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                           image_size=224, patch_size=14, projection_dim=768),
        projection_dim=768,
    )
    StableDiffusionSafetyChecker(config).eval().save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)


def cpu_seed_request(cache: str) -> None:
    """Wall time of the seed's SDXL request with the `cpu` profile's engine options (read from the
    shipped profile), so the answer to "inside botocore's 60 s?" is measured, not estimated."""
    import tomllib

    from conftest import make_client
    from servers import ServerProcess

    spec = tomllib.loads((ROOT / "src/outcrop/registry/profiles/cpu/images.toml").read_text())["engines"]["images"]
    options = {k: v for k, v in spec["options"].items() if k not in ("clipseg", "matting")}  # unused by text-to-image
    options["safety_checker"] = "safety_checker"  # built below, inside the weights folder
    options["timeout_s"] = 600
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        build_full_sdxl(folder, "float32")
        build_full_safety_checker(folder / "safety_checker")
        print(f"built full-size random SDXL + safety checker in {time.perf_counter() - started:.0f} s", flush=True)
        models = folder / "models.toml"
        lines = ['[models."stability.stable-diffusion-xl-v1"]', 'protocol = "stability-sdxl"', 'engine = "diffusion"',
                 f'weights = "{folder}"', 'dtype = "float32"', 'device = "cpu"', '[models."stability.stable-diffusion-xl-v1".options]']
        lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
        models.write_text("\n".join(lines) + "\n")
        proc = ServerProcess("--profile", "test", "--models", str(models), env={"OUTCROP_CACHE_DIR": cache}).start()
        try:
            patient = make_client(proc.url, read_timeout=900, retries={"total_max_attempts": 1})
            started = time.perf_counter()
            patient.invoke_model(modelId="stability.stable-diffusion-xl-v1", body=json.dumps(SEED_SDXL_BODY))
            print(f"first request (loads the weights): {time.perf_counter() - started:.1f} s", flush=True)
            default = make_client(proc.url)  # botocore defaults: 60 s read timeout, retries
            times = []
            for _ in range(2):
                started = time.perf_counter()
                body = json.loads(default.invoke_model(modelId="stability.stable-diffusion-xl-v1",
                                                       body=json.dumps(SEED_SDXL_BODY))["body"].read())
                times.append(time.perf_counter() - started)
                assert body["artifacts"][0]["finishReason"] in ("SUCCESS", "CONTENT_FILTERED")
            print(f"seed SDXL request (1024x1024, 50 steps -> turbo steps per the cpu profile), default boto3 client: "
                  f"{', '.join(f'{t:.1f}' for t in times)} s (botocore read timeout 60 s)")
        finally:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdxl-random-1024", action="store_true")
    parser.add_argument("--cpu-seed-request", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    cache = os.environ.get("OUTCROP_CACHE_DIR", str(ROOT / ".cache" / "outcrop"))
    if args.cpu_seed_request:
        cpu_seed_request(cache)
        return
    if args.sdxl_random_1024:
        folder = Path(tempfile.mkdtemp(prefix="sdxl-random-"))
        build_full_sdxl(folder, "float16")
        size, steps, guidance, dtype, device, render = 1024, 30, 7.0, "float16", "cuda", 1024
        models = folder / "models.toml"
        models.write_text(f'[models."amazon.nova-canvas-v1:0"]\nprotocol = "nova-canvas"\nengine = "diffusion"\n'
                          f'weights = "{folder}"\ndtype = "float16"\ndevice = "cuda"\n'
                          f'[models."amazon.nova-canvas-v1:0".options]\ntimeout_s = 600\n')
    else:
        from outcrop.testing.builtin import materialize

        folder, steps, guidance, dtype, device, render = materialize("tiny-sdxl-images", Path(cache)), 30, 6.5, "float32", "cpu", 64
        # Same model, same steps and size as the server runs (no resize, no step mapping).
        models = Path(tempfile.mkdtemp()) / "models.toml"
        models.write_text('[models."amazon.nova-canvas-v1:0"]\nprotocol = "nova-canvas"\nengine = "diffusion"\n'
                          'weights = "builtin:tiny-sdxl-images"\ndtype = "float32"\ndevice = "cpu"\n'
                          '[models."amazon.nova-canvas-v1:0".options]\nmax_render_side = 64\nsize_multiple = 16\n')
        size = 512  # Nova's 512² request; the tiny model renders 64² and both sides resize to 512²
    for count in (1, 4):
        d = direct(folder, dtype, device, size, steps, count, guidance, render)
        s = through_server(models, size, steps, count, cache)
        print(f"numberOfImages={count}: direct {d:.3f} s/image, server {s:.3f} s/image, ratio {s / d:.2f}x, "
              f"server {1 / s:.2f} images/s")


if __name__ == "__main__":
    main()
