"""`stability.stable-diffusion-xl-v1` request and response bodies (shared/spec §4a).

Conflict noted in the spec: older AWS docs allow steps 10..50, newer ones and Stability's own
spec 10..150; we accept 10..150. `clip_guidance_preset` is accepted and has no effect (CLIP
guidance is not part of diffusers' SDXL pipelines). `style_preset` appends a documented style
phrase to every positive prompt (STYLE_PRESETS below). `step_schedule_end` is accepted; the
schedule always runs to the end (diffusers' img2img has no early stop that still decodes cleanly).
With `init_image`, the output has the init image's size.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols import image_guardrail
from outcrop.protocols.image_common import (
    BEDROCK_STEPS,
    binary_mask,
    check_capabilities,
    random_seed,
    read_image,
    same_size,
)
from outcrop.protocols.image_guardrail import GuardedImage, open_guard
from outcrop.protocols.images import ImageLimits
from outcrop.protocols.invoke_guardrail import response_fields
from outcrop.protocols.offload import off_loop
from outcrop.protocols.validation import malformed, parse_body
from outcrop.tasks.image_generation import GeneratedImage, ImageGenerator, ImageTask, Sampler, WeightedPrompt

SIZES = {(1024, 1024), (1152, 896), (1216, 832), (1344, 768), (1536, 640), (640, 1536), (768, 1344), (832, 1216), (896, 1152)}
MAX_SEED = 4294967295
IMAGE_LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_pixels=1536 * 1536, max_side=2048, formats=frozenset({"PNG", "JPEG"}))
# Stability's sampler names -> the sampling algorithm (the engine says which it offers). diffusers has no
# DPM++ 2S ancestral; engines run their nearest (single-step DPM-Solver++, 2nd order) and document it.
SAMPLERS: dict[str, Sampler] = {
    "DDIM": "ddim", "DDPM": "ddpm", "K_DPMPP_2M": "dpmpp_2m", "K_DPMPP_2S_ANCESTRAL": "dpmpp_2s_ancestral",
    "K_DPM_2": "dpm_2", "K_DPM_2_ANCESTRAL": "dpm_2_ancestral", "K_EULER": "euler", "K_EULER_ANCESTRAL": "euler_ancestral",
    "K_HEUN": "heun", "K_LMS": "lms",
}
# Each preset is a phrase appended to the positive prompts.
STYLE_PRESETS = {
    "3d-model": "3d model, octane render, highly detailed, volumetric",
    "analog-film": "analog film photo, faded film, desaturated, grainy, vignette",
    "anime": "anime artwork, anime style, key visual, vibrant, studio anime",
    "cinematic": "cinematic film still, shallow depth of field, vignette, high budget, moody, epic",
    "comic-book": "comic book style, graphic illustration, comic art, graphic novel art",
    "digital-art": "digital art, concept art, digital painting, highly detailed",
    "enhance": "breathtaking, award-winning, professional, highly detailed",
    "fantasy-art": "ethereal fantasy concept art, magnificent, celestial, painterly, epic",
    "isometric": "isometric style, vibrant, beautiful, crisp, detailed, ultra detailed, intricate",
    "line-art": "line art drawing, professional, sleek, modern, minimalist, graphic, line art, vector graphics",
    "low-poly": "low-poly style, low-poly game art, polygon mesh, jagged, blocky, geometric",
    "modeling-compound": "play-doh style, sculpture, clay art, centered composition, claymation",
    "neon-punk": "neonpunk style, cyberpunk, vaporwave, neon, vibrant, stunningly beautiful, crisp, detailed",
    "origami": "origami style, paper art, pleated paper, folded, origami art, centered composition",
    "photographic": "cinematic photo, 35mm photograph, film, bokeh, professional, highly detailed",
    "pixel-art": "pixel-art, low-res, blocky, pixel art style, 8-bit graphics",
    "tile-texture": "tileable texture, seamless pattern, flat, top-down, uniform",
}


class TextPrompt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=2000, description="Prompt text.")
    weight: float = Field(1.0, description="Share of this prompt; a negative weight makes a negative prompt.")


class StabilitySdxlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text_prompts: list[TextPrompt] = Field(min_length=1)
    height: int = 1024
    width: int = 1024
    cfg_scale: float = Field(7.0, ge=0, le=35)
    clip_guidance_preset: Literal["FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST"] = "NONE"
    sampler: Literal[tuple(SAMPLERS)] | None = None  # type: ignore[valid-type]
    samples: int = Field(1, ge=1, le=1, description="Bedrock allows exactly 1.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="0 = random; the seed used comes back per artifact.")
    steps: int = Field(30, ge=10, le=150)
    style_preset: Literal[tuple(STYLE_PRESETS)] | None = None  # type: ignore[valid-type]
    extras: dict[str, Any] | None = None
    init_image: str | None = None
    init_image_mode: Literal["IMAGE_STRENGTH", "STEP_SCHEDULE"] = "IMAGE_STRENGTH"
    image_strength: float = Field(0.35, ge=0, le=1)
    step_schedule_start: float = Field(0.65, ge=0, le=1)
    step_schedule_end: float | None = Field(None, ge=0, le=1)
    mask_source: Literal["MASK_IMAGE_WHITE", "MASK_IMAGE_BLACK", "INIT_IMAGE_ALPHA"] | None = None
    mask_image: str | None = None


def to_task(request: StabilitySdxlRequest) -> ImageTask:
    prompts = tuple(WeightedPrompt(p.text, p.weight) for p in request.text_prompts if p.weight != 0)
    positives = [p for p in prompts if p.weight > 0]
    if not positives:
        raise malformed("#/text_prompts: at least one prompt needs a positive weight (a negative weight makes a negative prompt)")
    if not any(p.text.strip() for p in positives):
        raise malformed("#/text_prompts: the positive prompt text must not be empty")
    if request.style_preset:
        style = STYLE_PRESETS[request.style_preset]
        prompts = tuple(WeightedPrompt(f"{p.text}, {style}", p.weight) if p.weight > 0 else p for p in prompts)
    seed = request.seed or random_seed(MAX_SEED)
    common: dict[str, Any] = dict(prompts=prompts, seeds=(seed,), steps=request.steps, step_scale=BEDROCK_STEPS,
                                  guidance_scale=request.cfg_scale,
                                  sampler=SAMPLERS[request.sampler] if request.sampler else None)
    if request.init_image is None:
        if request.mask_source or request.mask_image:
            raise ValidationException("init_image is required when mask_source or mask_image is given.")
        if (request.width, request.height) not in SIZES:
            allowed = ", ".join(f"{w}x{h}" for w, h in sorted(SIZES))
            raise ValidationException(
                f"The width x height {request.width}x{request.height} is not supported for SDXL 1.0. Use one of: {allowed}."
            )
        return ImageTask(mode="txt2img", width=request.width, height=request.height, **common)
    init = read_image(request.init_image, "init_image", IMAGE_LIMITS)
    if request.init_image_mode == "IMAGE_STRENGTH":
        strength = 1.0 - request.image_strength
    else:
        strength = request.step_schedule_start
    strength = min(max(strength, 0.01), 1.0)
    if request.mask_source is None:
        if request.mask_image is not None:
            raise ValidationException("mask_source is required with mask_image (MASK_IMAGE_WHITE or MASK_IMAGE_BLACK).")
        return ImageTask(mode="img2img", width=init.width, height=init.height, init_image=init.convert("RGB"),
                         strength=strength, **common)
    if request.mask_source == "INIT_IMAGE_ALPHA":
        if "A" not in init.getbands():
            raise ValidationException("mask_source INIT_IMAGE_ALPHA needs an init_image with an alpha channel.")
        mask = init.getchannel("A").point(lambda a: 255 - a)  # transparent = repaint
    else:
        if request.mask_image is None:
            raise ValidationException(f"mask_image is required when mask_source is {request.mask_source}.")
        mask_image = read_image(request.mask_image, "mask_image", IMAGE_LIMITS)
        same_size(init, mask_image, "init_image", "mask_image")
        mask = binary_mask(mask_image, white_is_inside=request.mask_source == "MASK_IMAGE_WHITE")
    return ImageTask(mode="inpaint", width=init.width, height=init.height, init_image=init.convert("RGB"),
                     mask=mask, strength=1.0, **common)


def guarded_input(request: StabilitySdxlRequest) -> tuple[list[str], list[GuardedImage]]:
    """What a guardrail assesses on input: the positive prompts and the init and mask images."""
    prompts = [p.text for p in request.text_prompts if p.weight > 0]
    images = [GuardedImage(name, data) for name, data in (("init_image", request.init_image),
                                                          ("mask_image", request.mask_image)) if data is not None]
    return prompts, images


def _black_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


class StabilitySdxl(Protocol[ImageGenerator]):
    engine_interface = ImageGenerator
    name = "stability-sdxl"
    operations = frozenset({INVOKE_MODEL})
    input_modalities = ("TEXT", "IMAGE")
    output_modalities = ("IMAGE",)
    invoke_guardrails = True

    async def invoke_model(self, ctx: InvokeContext[ImageGenerator]) -> InvokeReply:
        """With a guardrail, a blocked input answers as SDXL answers its own safety filter: black images with
        finishReason CONTENT_FILTERED, plus the guardrail's blocked message as `message`; on output only the
        images the guardrail flags are so replaced. A masked prompt (ANONYMIZE) reaches the model masked."""
        wants_png = ctx.accept is not None and ctx.accept.split(";")[0].strip().lower() == "image/png"
        require_json(ctx.content_type, None if wants_png else ctx.accept)
        guard, body = await open_guard(ctx)
        request = await off_loop(lambda: parse_body(StabilitySdxlRequest, body))
        task = await off_loop(lambda: to_task(request))
        images: list[GeneratedImage] | None = None
        blocked: str | None = None
        if guard is not None:
            prompts, inputs = guarded_input(request)
            verdict = await image_guardrail.check_input(guard, prompts, inputs)
            if verdict.blocked:
                blocked = image_guardrail.blocked_message(guard, "INPUT")
                black = await off_loop(lambda: _black_png(task.width, task.height))
                images = [GeneratedImage(black, seed, flagged=True) for seed in task.seeds]
            elif verdict.prompts is not None:
                masked = iter(verdict.prompts)
                texts = [p.model_copy(update={"text": next(masked)}) if p.weight > 0 else p for p in request.text_prompts]
                masked_request = request.model_copy(update={"text_prompts": texts, "seed": task.seeds[0]})
                task = await off_loop(lambda: to_task(masked_request))
        if images is None:
            engine = await ctx.engine()
            check_capabilities(task, engine.capabilities)
            images = (await engine.generate(replace(task, progress=ctx.progress))).images
            if guard is not None:
                flags = await image_guardrail.check_outputs(guard, images)
                if any(flags):
                    blocked = image_guardrail.blocked_message(guard, "OUTPUT")
                    black = await off_loop(lambda: _black_png(task.width, task.height))
                    images = filtered(images, flags, black)
        artifacts = [
            {"seed": image.seed, "base64": base64.b64encode(image.png).decode(),
             "finishReason": "CONTENT_FILTERED" if image.flagged else "SUCCESS"}
            for image in images
        ]
        fields = response_fields(guard) if guard is not None else {}
        if wants_png:  # Stability's REST convention: raw PNG, finish reason and seed in headers
            headers: dict[str, str] = {"Finish-Reason": str(artifacts[0]["finishReason"]), "Seed": str(images[0].seed)}
            if guard is not None:
                headers["amazon-bedrock-guardrailAction"] = fields["amazon-bedrock-guardrailAction"]
            return InvokeReply(body=images[0].png, content_type="image/png", headers=headers)
        reply: dict[str, Any] = {"result": "success", "artifacts": artifacts, **fields}
        if blocked is not None:
            reply["message"] = blocked
        return InvokeReply(body=json.dumps(reply, ensure_ascii=False).encode())


def filtered(images: list[GeneratedImage], flags: list[bool], black: bytes) -> list[GeneratedImage]:
    """The images with each one the guardrail flagged replaced as SDXL's own filter replaces it: black,
    flagged (finishReason CONTENT_FILTERED), same seed."""
    return [GeneratedImage(black, image.seed, flagged=True) if flag else image for image, flag in zip(images, flags)]
