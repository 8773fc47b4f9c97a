"""Stability's SD3-generation bodies: `stability.sd3-5-large-v1:0` (and `stability.sd3-large-v1:0`),
`stability.stable-image-core-v1:0/1`, `stability.stable-image-ultra-v1:0/1`.

`prompt` (≤ 10,000 characters), `negative_prompt`, `aspect_ratio` (text-to-image only; 1:1 default),
`seed` (0 = random, up to 4,294,967,294), `output_format` jpeg/png/webp (png default). SD3.5 Large
takes `mode` text-to-image / image-to-image with `image` and `strength` (0 keeps the image, 1
ignores it); Ultra takes `image` + `strength` without `mode`; Core is text-to-image only. The answer
is `{seeds, finish_reasons, images}`; an image the safety checker flags is answered as Bedrock
answers a filtered one, `{"finish_reasons": ["Filter reason: output image"]}`. Sizes are Stability's
one-megapixel sizes per aspect ratio; the engine (an SD3 pipeline, or the SDXL engine where a
profile maps these ids onto it) renders them.

Guardrails (X-Amzn-Bedrock-Guardrail* headers, protocols/image_guardrail.py) assess `prompt` and the
image-to-image `image`; an intervention answers with Bedrock's other documented finish reasons,
`{"finish_reasons": ["Filter reason: prompt"]}` or `["Filter reason: input image"]` for a blocked input
and "Filter reason: output image" for a blocked generated image, plus `amazon-bedrock-guardrailAction`
(and `amazon-bedrock-trace`).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from typing import ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.protocols import image_guardrail
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols.image_common import BEDROCK_STEPS, check_capabilities, random_seed
from outcrop.protocols.image_guardrail import GuardedImage, open_guard
from outcrop.protocols.images import ImageLimits, decode_image
from outcrop.protocols.invoke_guardrail import response_fields
from outcrop.protocols.offload import off_loop
from outcrop.protocols.validation import malformed, parse_body
from outcrop.tasks.image_generation import GeneratedImage, ImageGenerator, ImageTask, WeightedPrompt

MAX_SEED = 4_294_967_294
MAX_PROMPT = 10_000
# Stability's input image rules: jpeg/png/webp, every side at least 64 px, 4,096 to 9,437,184 pixels.
IMAGE_LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_pixels=9_437_184, max_side=8192,
                           formats=frozenset({"PNG", "JPEG", "WEBP"}))
MIN_SIDE = 64
SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640), "2:3": (832, 1216), "3:2": (1216, 832),
         "4:5": (896, 1088), "5:4": (1088, 896), "9:16": (768, 1344), "9:21": (640, 1536)}
AspectRatio = Literal["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# Bedrock's finish reasons for a filtered request (null: the image was generated).
FILTERED_PROMPT, FILTERED_INPUT_IMAGE, FILTERED_OUTPUT = ("Filter reason: prompt", "Filter reason: input image",
                                                          "Filter reason: output image")
# Bedrock-scale guidance for these models; steps are per model (the engine maps them onto its own range).
GUIDANCE = 4.5


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(max_length=MAX_PROMPT)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT)
    aspect_ratio: AspectRatio | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    output_format: Literal["jpeg", "png", "webp"] = "png"


class CoreRequest(_Common):
    pass


class UltraRequest(_Common):
    image: str | None = None
    strength: float | None = Field(None, ge=0, le=1)


class Sd35Request(UltraRequest):
    mode: Literal["text-to-image", "image-to-image"] = "text-to-image"


def _input_image(data: str) -> Image.Image:
    image = decode_image(data, "image", IMAGE_LIMITS)
    if min(image.size) < MIN_SIDE:
        raise ValidationException(f"image is {image.width}x{image.height} pixels; every side must be at least {MIN_SIDE} pixels.")
    return image


def to_task(request: _Common, steps: int) -> ImageTask:
    prompts = [WeightedPrompt(request.prompt, 1.0)]
    if request.negative_prompt:
        prompts.append(WeightedPrompt(request.negative_prompt, -1.0))
    seed = request.seed or random_seed(MAX_SEED)
    common = dict(prompts=tuple(prompts), seeds=(seed,), steps=steps, step_scale=BEDROCK_STEPS, guidance_scale=GUIDANCE,
                  flagged_blackout=False)
    image = getattr(request, "image", None)
    strength = getattr(request, "strength", None)
    mode = getattr(request, "mode", "image-to-image" if image is not None else "text-to-image")
    if mode == "text-to-image":
        if image is not None or strength is not None:
            raise malformed("#: image and strength are valid for image-to-image requests only")
        width, height = SIZES[request.aspect_ratio or "1:1"]
        return ImageTask(mode="txt2img", width=width, height=height, **common)  # type: ignore[arg-type]
    if request.aspect_ratio is not None:
        raise malformed("#: aspect_ratio is valid for text-to-image requests only")
    if image is None:
        raise malformed("#: required key [image] not found")
    if strength is None:
        raise malformed("#: required key [strength] not found")
    init = _input_image(image)
    return ImageTask(mode="img2img", width=init.width, height=init.height, init_image=init.convert("RGB"),
                     strength=min(max(strength, 0.01), 1.0), **common)  # type: ignore[arg-type]


def _encoded(png: bytes, output_format: str) -> str:
    if output_format == "png":
        return base64.b64encode(png).decode()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, _PIL_FORMATS[output_format], quality=95)
    return base64.b64encode(buffer.getvalue()).decode()


def _black(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as picture:
        size = picture.size
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def answer(images: list[GeneratedImage], blocked: list[bool], output_format: str) -> dict[str, object]:
    """The response body: a finish reason per image, "Filter reason: output image" for one the model's
    filter or the guardrail (`blocked`) flagged. When every image is filtered -- always, for a filtered
    image, since these models generate one image per request -- it is Bedrock's filtered answer, the
    finish reasons alone; otherwise a filtered image is black in `images` (as SDXL answers one), so the
    lists stay aligned."""
    filtered = [image.flagged or flag for image, flag in zip(images, blocked)]
    reasons = [FILTERED_OUTPUT if flag else None for flag in filtered]
    if all(filtered):
        return {"finish_reasons": reasons}
    return {"seeds": [image.seed for image in images], "finish_reasons": reasons,
            "images": [_encoded(_black(image.png) if flag else image.png, output_format)
                       for image, flag in zip(images, filtered)]}


class StableImageCore(Protocol[ImageGenerator]):
    engine_interface = ImageGenerator
    name = "stability-image-core"
    operations = frozenset({INVOKE_MODEL})
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    output_modalities: ClassVar[tuple[str, ...]] = ("IMAGE",)
    invoke_guardrails = True
    request_model: ClassVar[type[_Common]] = CoreRequest
    steps: ClassVar[int] = 20  # Core is Stability's fast tier: half the steps of Large and Ultra

    async def invoke_model(self, ctx: InvokeContext[ImageGenerator]) -> InvokeReply:
        """With a guardrail, a blocked input never reaches the engine and a masked prompt reaches it masked."""
        require_json(ctx.content_type, ctx.accept)
        guard, raw = await open_guard(ctx)
        request = await off_loop(lambda: parse_body(self.request_model, raw))
        task = await off_loop(lambda: to_task(request, self.steps))
        if guard is not None:
            image = getattr(request, "image", None)
            inputs = [GuardedImage("image", image)] if image is not None else []
            verdict = await image_guardrail.check_input(guard, [request.prompt], inputs)
            if verdict.blocked:
                by_prompt = await image_guardrail.prompts_blocked(guard, [request.prompt], inputs)
                body = {"finish_reasons": [FILTERED_PROMPT if by_prompt else FILTERED_INPUT_IMAGE],
                        **response_fields(guard)}
                return InvokeReply(body=json.dumps(body).encode())
            if verdict.prompts is not None:
                masked = request.model_copy(update={"prompt": verdict.prompts[0], "seed": task.seeds[0]})
                task = await off_loop(lambda: to_task(masked, self.steps))
        engine = await ctx.engine()
        check_capabilities(task, engine.capabilities)
        images = (await engine.generate(replace(task, progress=ctx.progress))).images
        flags = await image_guardrail.check_outputs(guard, images) if guard is not None else [False] * len(images)
        reply = await off_loop(lambda: answer(images, flags, request.output_format))
        if guard is not None:
            reply.update(response_fields(guard))
        return InvokeReply(body=json.dumps(reply).encode())


class StableImageUltra(StableImageCore):
    name = "stability-image-ultra"
    input_modalities = ("TEXT", "IMAGE")
    request_model = UltraRequest
    steps = 40


class StableDiffusion35(StableImageCore):
    name = "stability-sd3"
    input_modalities = ("TEXT", "IMAGE")
    request_model = Sd35Request
    steps = 40
