"""Image request bodies per family (Stability SDXL vs Titan Image Generator / Nova Canvas) and their
responses turned into `GeneratedImage`s: the one place that knows the two wire shapes."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from typing import Any, Literal

from outcrop.sdk.errors import UnsupportedOptionError
from outcrop.sdk.models import ImageFamily
from outcrop.sdk.results import GeneratedImage

Quality = Literal["standard", "premium"]
_MAX_SEED: dict[ImageFamily, int] = {"sdxl": 4_294_967_295, "titan-v1": 2_147_483_646, "titan-v2": 2_147_483_646,
                                     "nova": 858_993_459}
_TITAN_BATCH = 5  # numberOfImages per Titan/Nova request


@dataclass(frozen=True)
class ImageCall:
    """One request body plus what the tally needs to know about it."""

    body: dict[str, Any]
    seed: int | None
    images: int
    steps: int = 0
    pixels: int = 0
    premium: bool = False


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pick_seed(family: ImageFamily, seed: int | None) -> int:
    """The caller's seed, or a random one the SDK reports back, so every result can be reproduced."""
    return seed if seed is not None else random.randint(1, _MAX_SEED[family])


def parse_size(size: tuple[int, int] | str | None) -> tuple[int, int]:
    if size is None:
        return 1024, 1024
    if isinstance(size, str):
        width, height = (int(part) for part in size.lower().split("x"))
        return width, height
    return int(size[0]), int(size[1])


def _sdxl_prompts(prompt: str | None, negative: str | None) -> list[dict[str, Any]]:
    prompts = [{"text": prompt or "", "weight": 1.0}]
    if negative:
        prompts.append({"text": negative, "weight": -1.0})
    return prompts


def _sdxl_bodies(base: dict[str, Any], n: int, seed: int, steps: int | None, cfg_scale: float | None,
                 style: str | None, pixels: int) -> list[ImageCall]:
    """SDXL on Bedrock makes one image per request (samples = 1): n requests, seeds seed, seed+1, ..."""
    calls = []
    for i in range(n):
        body = {**base, "seed": seed + i}
        if steps is not None:
            body["steps"] = steps
        if cfg_scale is not None:
            body["cfg_scale"] = cfg_scale
        if style is not None:
            body["style_preset"] = style
        used_steps = steps if steps is not None else 30
        calls.append(ImageCall(body, seed + i, 1, steps=used_steps, pixels=pixels, premium=used_steps > 50))
    return calls


def _titan_bodies(family: ImageFamily, task: str, params: dict[str, Any], n: int, seed: int | None,
                  cfg_scale: float | None, quality: Quality | None, size: tuple[int, int] | None,
                  pixels: int) -> list[ImageCall]:
    """Titan/Nova take up to 5 images per request; more are split into requests with seeds seed, seed+5, ..."""
    calls = []
    done = 0
    while done < n:
        count = min(_TITAN_BATCH, n - done)
        config: dict[str, Any] = {"numberOfImages": count}
        if seed is not None:
            config["seed"] = seed + done
        if cfg_scale is not None:
            config["cfgScale"] = cfg_scale
        if quality is not None:
            config["quality"] = quality
        if size is not None:
            config["width"], config["height"] = size
        calls.append(ImageCall({"taskType": task, PARAMS_KEY[task]: params, "imageGenerationConfig": config},
                               None if seed is None else seed + done, count, pixels=pixels, premium=quality == "premium"))
        done += count
    return calls


PARAMS_KEY = {"TEXT_IMAGE": "textToImageParams", "IMAGE_VARIATION": "imageVariationParams",
              "INPAINTING": "inPaintingParams", "OUTPAINTING": "outPaintingParams",
              "BACKGROUND_REMOVAL": "backgroundRemovalParams"}


def _no_steps(family: ImageFamily, steps: int | None) -> None:
    if steps is not None:
        raise UnsupportedOptionError(f"{family} bodies have no steps field; pass quality='premium' for more steps")


def _no_quality(family: ImageFamily, quality: Quality | None) -> None:
    if quality is not None:
        raise UnsupportedOptionError("SDXL bodies have no quality field; steps above 50 are Bedrock's premium tier")


def text_to_image(family: ImageFamily, prompt: str, *, negative: str | None, n: int, size: tuple[int, int],
                  steps: int | None, cfg_scale: float | None, seed: int | None, style: str | None,
                  quality: Quality | None) -> list[ImageCall]:
    chosen = pick_seed(family, seed)
    pixels = size[0] * size[1]
    if family == "sdxl":
        _no_quality(family, quality)
        base = {"text_prompts": _sdxl_prompts(prompt, negative), "width": size[0], "height": size[1]}
        return _sdxl_bodies(base, n, chosen, steps, cfg_scale, style, pixels)
    _no_steps(family, steps)
    params: dict[str, Any] = {"text": prompt}
    if negative:
        params["negativeText"] = negative
    if style is not None:
        if family != "nova":
            raise UnsupportedOptionError("style needs Nova Canvas (textToImageParams.style) or SDXL (style_preset)")
        params["style"] = style
    return _titan_bodies(family, "TEXT_IMAGE", params, n, chosen, cfg_scale, quality, size, pixels)


def variation(family: ImageFamily, images: list[bytes], *, prompt: str | None, negative: str | None,
              similarity: float, n: int, size: tuple[int, int] | None, seed: int | None,
              cfg_scale: float | None, quality: Quality | None, pixels: int) -> list[ImageCall]:
    chosen = pick_seed(family, seed)
    if family == "sdxl":
        _no_quality(family, quality)
        if len(images) != 1 or size is not None:
            raise UnsupportedOptionError("SDXL varies exactly one image, at its own size")
        base = {"text_prompts": _sdxl_prompts(prompt, negative), "init_image": b64(images[0]),
                "init_image_mode": "IMAGE_STRENGTH", "image_strength": similarity}
        return _sdxl_bodies(base, n, chosen, None, cfg_scale, None, pixels)
    params: dict[str, Any] = {"images": [b64(i) for i in images], "similarityStrength": similarity}
    if prompt:
        params["text"] = prompt
    if negative:
        params["negativeText"] = negative
    return _titan_bodies(family, "IMAGE_VARIATION", params, n, chosen, cfg_scale, quality, size, pixels)


def masked_edit(family: ImageFamily, task: Literal["INPAINTING", "OUTPAINTING"], image: bytes, *,
                mask: bytes | None, mask_prompt: str | None, prompt: str | None, negative: str | None, n: int,
                seed: int | None, cfg_scale: float | None, quality: Quality | None, pixels: int,
                outpainting_mode: str | None = None) -> list[ImageCall]:
    """Masks follow Titan's convention for both families: black pixels are the masked region, which
    inpainting repaints and outpainting keeps."""
    if (mask is None) == (mask_prompt is None):
        raise ValueError("give exactly one of mask and mask_prompt")
    chosen = pick_seed(family, seed)
    if family == "sdxl":
        _no_quality(family, quality)
        if task == "OUTPAINTING" or mask is None:
            raise UnsupportedOptionError("SDXL inpaints with a mask image only; outpainting and mask_prompt need Titan or Nova")
        base = {"text_prompts": _sdxl_prompts(prompt, negative), "init_image": b64(image),
                "mask_source": "MASK_IMAGE_BLACK", "mask_image": b64(mask)}
        return _sdxl_bodies(base, n, chosen, None, cfg_scale, None, pixels)
    params: dict[str, Any] = {"image": b64(image)}
    if prompt:
        params["text"] = prompt
    if negative:
        params["negativeText"] = negative
    if mask is not None:
        params["maskImage"] = b64(mask)
    else:
        params["maskPrompt"] = mask_prompt
    if outpainting_mode is not None:
        params["outPaintingMode"] = outpainting_mode
    return _titan_bodies(family, task, params, n, chosen, cfg_scale, quality, None, pixels)


def remove_background(family: ImageFamily, image: bytes, pixels: int) -> list[ImageCall]:
    if family in ("sdxl", "titan-v1"):
        raise UnsupportedOptionError("background removal needs amazon.titan-image-generator-v2:0 or amazon.nova-canvas-v1:0")
    return [ImageCall({"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": b64(image)}}, None, 1,
                      pixels=pixels)]


def parse_images(family: ImageFamily, payload: dict[str, Any], call: ImageCall) -> tuple[list[GeneratedImage], bytes | None]:
    """Images (and Titan's returned mask) from a response body."""
    if family == "sdxl":
        return [GeneratedImage(base64.b64decode(a["base64"]), a.get("seed"), a.get("finishReason"))
                for a in payload.get("artifacts", [])], None
    seed = call.seed if call.images == 1 else None  # Bedrock does not say which seed each of several images used
    images = [GeneratedImage(base64.b64decode(i), seed, None) for i in payload.get("images", [])]
    mask = payload.get("maskImage")
    return images, base64.b64decode(mask) if mask else None
