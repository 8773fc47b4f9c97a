"""`amazon.titan-image-generator-v1`, `amazon.titan-image-generator-v2:0`, `amazon.nova-canvas-v1:0` bodies
(shared/spec §4b), all served by the diffusion engine.

How the tasks map onto diffusion (documented approximations):
- IMAGE_VARIATION: img2img from the first image (several images are averaged first); diffusers
  strength = 1 − 0.75 × similarityStrength (0.2 → 0.85, 1.0 → 0.25).
- INPAINTING/OUTPAINTING: inpainting; OUTPAINTING repaints outside the mask. DEFAULT blurs the
  mask edge for a soft blend, PRECISE keeps it hard.
- COLOR_GUIDED_GENERATION: img2img (strength 0.85) from a palette image of `colors` (blended
  with `referenceImage` when given), so the palette steers the result.
- maskPrompt: segmented by CLIPSeg (English); non-English prompts are translated first when the
  entry names a `mask_prompt_translator` chat model in its protocol options (protocols/mask_translation.py).
- Guardrails (X-Amzn-Bedrock-Guardrail* headers, protocols/image_guardrail.py): a blocked input, or output
  where every image is blocked, answers `{"images": [], "error": <the guardrail's blocked message>,
  "amazon-bedrock-guardrailAction": "INTERVENED"}`; output where only some images are blocked answers as
  the family's own filter answers a partly filtered batch: the other images, and an `error` that counts
  the dropped ones.
- numberOfImages > 1: seeds seed, seed+1, ... in one batch. `quality` premium runs 50 steps,
  standard 30 (mapped by the engine for distilled models).
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any, ClassVar, Literal

from PIL import Image, ImageFilter
from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import ConverseGuard
from outcrop.protocols import image_guardrail
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols.image_common import BEDROCK_STEPS, binary_mask, check_capabilities, read_image, same_size
from outcrop.protocols.image_guardrail import GuardedImage, open_guard
from outcrop.protocols.images import ImageLimits
from outcrop.protocols.invoke_guardrail import response_fields
from outcrop.protocols.mask_translation import english_mask_prompt
from outcrop.protocols.offload import off_loop
from outcrop.registry.options import Options
from outcrop.protocols.validation import malformed, parse_body
from outcrop.tasks.image_generation import GeneratedImage, ImageCapabilities, ImageGenerator, ImageTask, WeightedPrompt

TITAN_SIZES = {
    (1024, 1024), (768, 768), (512, 512), (768, 1152), (384, 576), (1152, 768), (576, 384), (768, 1280), (384, 640),
    (1280, 768), (640, 384), (896, 1152), (448, 576), (1152, 896), (576, 448), (768, 1408), (384, 704), (1408, 768),
    (704, 384), (640, 1408), (320, 704), (1408, 640), (704, 320), (1152, 640), (1173, 640),
}
BLOCKED_OUTPUT = ("This request has been blocked by our content filters because the generated image(s) may conflict "
                  "with our AUP or AWS Responsible AI Policy.")
TaskType = Literal["TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING", "COLOR_GUIDED_GENERATION",
                   "BACKGROUND_REMOVAL", "VIRTUAL_TRY_ON"]
PARAMS_KEY = {
    "TEXT_IMAGE": "textToImageParams", "IMAGE_VARIATION": "imageVariationParams", "INPAINTING": "inPaintingParams",
    "OUTPAINTING": "outPaintingParams", "COLOR_GUIDED_GENERATION": "colorGuidedGenerationParams",
    "BACKGROUND_REMOVAL": "backgroundRemovalParams", "VIRTUAL_TRY_ON": "virtualTryOnParams",
}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextToImageParams(_Params):
    text: str
    negativeText: str | None = None
    conditionImage: str | None = None
    controlMode: Literal["CANNY_EDGE", "SEGMENTATION"] | None = None
    controlStrength: float | None = Field(None, ge=0, le=1)
    style: str | None = None


class ImageVariationParams(_Params):
    images: list[str] = Field(min_length=1, max_length=5)
    text: str | None = None
    negativeText: str | None = None
    similarityStrength: float = Field(0.7, ge=0.2, le=1.0)


class InPaintingParams(_Params):
    image: str
    text: str | None = None
    negativeText: str | None = None
    maskPrompt: str | None = None
    maskImage: str | None = None
    returnMask: bool | None = None


class OutPaintingParams(InPaintingParams):
    text: str
    outPaintingMode: Literal["DEFAULT", "PRECISE"] = "DEFAULT"


class ColorGuidedGenerationParams(_Params):
    text: str
    colors: list[str] = Field(min_length=1, max_length=10)
    negativeText: str | None = None
    referenceImage: str | None = None


class BackgroundRemovalParams(_Params):
    image: str


class ImageGenerationConfig(_Params):
    numberOfImages: int = Field(1, ge=1, le=5)
    quality: Literal["standard", "premium"] = "standard"
    cfgScale: float | None = Field(None, ge=1.1, le=10.0)
    seed: int | None = Field(None, ge=0)
    width: int = 1024
    height: int = 1024


class TitanImageRequest(_Params):
    taskType: TaskType
    textToImageParams: TextToImageParams | None = None
    imageVariationParams: ImageVariationParams | None = None
    inPaintingParams: InPaintingParams | None = None
    outPaintingParams: OutPaintingParams | None = None
    colorGuidedGenerationParams: ColorGuidedGenerationParams | None = None
    backgroundRemovalParams: BackgroundRemovalParams | None = None
    imageGenerationConfig: ImageGenerationConfig | None = None


class TitanImageOptions(Options):
    mask_prompt_translator: str | None = Field(
        None, description="A chat model id of the profile that translates non-English maskPrompts to English first.")


class TitanImageV1(Protocol[ImageGenerator]):
    engine_interface = ImageGenerator
    Options = TitanImageOptions
    name = "titan-image-v1"
    operations = frozenset({INVOKE_MODEL})
    input_modalities = ("TEXT", "IMAGE")
    output_modalities = ("IMAGE",)
    invoke_guardrails = True
    task_types: ClassVar[frozenset[str]] = frozenset({"TEXT_IMAGE", "IMAGE_VARIATION", "INPAINTING", "OUTPAINTING"})
    max_text: ClassVar[int] = 512
    max_seed: ClassVar[int] = 2_147_483_646
    default_seed: ClassVar[int] = 42
    default_cfg: ClassVar[float] = 8.0
    conditioning: ClassVar[bool] = False
    image_limits: ClassVar[ImageLimits] = ImageLimits(max_bytes=5 * 1024 * 1024, max_pixels=1408 * 1408, max_side=1408,
                                                      formats=frozenset({"PNG", "JPEG"}))

    # -- validation ------------------------------------------------------------------------------
    def check_size(self, width: int, height: int) -> None:
        if (width, height) not in TITAN_SIZES:
            allowed = ", ".join(f"{w}x{h}" for w, h in sorted(TITAN_SIZES))
            raise ValidationException(f"The width x height {width}x{height} is not supported. Use one of: {allowed}.")

    def text(self, value: str | None, field: str, required: bool = False) -> str | None:
        if value is None or not value.strip():
            if required or value is not None:
                raise malformed(f"#/{field}: expected minLength: 1, actual: {0 if value is None else len(value)}")
            return None
        if len(value) > self.max_text:
            raise malformed(f"#/{field}: expected maxLength: {self.max_text}, actual: {len(value)}")
        return value

    def prompts(self, key: str, text: str | None, negative: str | None, required: bool = False) -> tuple[WeightedPrompt, ...]:
        positive = self.text(text, f"{key}/text", required) or ""
        out = [WeightedPrompt(positive, 1.0)]
        if (neg := self.text(negative, f"{key}/negativeText")) is not None:
            out.append(WeightedPrompt(neg, -1.0))
        return tuple(out)

    def image(self, data: str, field: str) -> Image.Image:
        return read_image(data, field, self.image_limits)

    # -- body → task -----------------------------------------------------------------------------
    def to_task(self, request: TitanImageRequest) -> tuple[ImageTask, bool]:
        kind = request.taskType
        if kind not in self.task_types:
            raise malformed(f"#/taskType: {kind} is not a valid enum value")
        key = PARAMS_KEY[kind]
        for other in PARAMS_KEY.values():
            if other != key and getattr(request, other, None) is not None:
                raise malformed(f"#: extraneous key [{other}] is not permitted")
        params = getattr(request, key)
        if params is None:
            raise malformed(f"#: required key [{key}] not found")
        if kind == "BACKGROUND_REMOVAL":
            if request.imageGenerationConfig is not None:
                raise malformed("#: extraneous key [imageGenerationConfig] is not permitted")
            image = self.image(params.image, f"{key}/image")
            return ImageTask(mode="remove_background", width=image.width, height=image.height, init_image=image), False
        config = request.imageGenerationConfig or ImageGenerationConfig()
        if config.seed is not None and config.seed > self.max_seed:
            raise malformed(f"#/imageGenerationConfig/seed: {config.seed} is not less or equal to {self.max_seed}")
        seed = self.default_seed if config.seed is None else config.seed
        common: dict[str, Any] = dict(
            seeds=tuple(seed + i for i in range(config.numberOfImages)), steps=50 if config.quality == "premium" else 30, step_scale=BEDROCK_STEPS,
            guidance_scale=config.cfgScale if config.cfgScale is not None else self.default_cfg, flagged_blackout=False,
        )
        if kind == "TEXT_IMAGE":
            self.check_size(config.width, config.height)
            prompts = self.prompts(key, params.text, params.negativeText, required=True)
            control: dict[str, Any] = {}
            if params.conditionImage is None:
                if params.controlMode is not None or params.controlStrength is not None:
                    raise ValidationException("controlMode and controlStrength require conditionImage.")
            elif not self.conditioning:
                raise malformed(f"#/{key}: extraneous key [conditionImage] is not permitted")
            else:
                control = dict(control_image=self.image(params.conditionImage, f"{key}/conditionImage"),
                               control_mode="segmentation" if params.controlMode == "SEGMENTATION" else "canny",
                               control_strength=0.7 if params.controlStrength is None else params.controlStrength)
            return ImageTask(mode="txt2img", prompts=prompts, width=config.width, height=config.height,
                             **control, **common), False
        if kind == "IMAGE_VARIATION":
            self.check_size(config.width, config.height)
            images = [self.image(b, f"{key}/images/{i}").convert("RGB") for i, b in enumerate(params.images)]
            blend = images[0]
            for i, extra in enumerate(images[1:], start=2):
                blend = Image.blend(blend, extra.resize(blend.size), 1.0 / i)
            return ImageTask(mode="img2img", prompts=self.prompts(key, params.text, params.negativeText),
                             width=config.width, height=config.height, init_image=blend,
                             strength=1.0 - 0.75 * params.similarityStrength, **common), False
        if kind in ("INPAINTING", "OUTPAINTING"):
            image = self.image(params.image, f"{key}/image")
            if (params.maskImage is None) == (params.maskPrompt is None):
                raise ValidationException(
                    f"Exactly one of {key}.maskImage or {key}.maskPrompt is required; "
                    f"{'both were' if params.maskImage is not None else 'neither was'} given."
                )
            mask = mask_prompt = None
            if params.maskImage is not None:
                mask_image = self.image(params.maskImage, f"{key}/maskImage")
                same_size(image, mask_image, "image", "maskImage")
                # Titan: black = inside the mask. Inpainting repaints inside, outpainting outside.
                mask = binary_mask(mask_image, white_is_inside=kind == "OUTPAINTING")
                if kind == "OUTPAINTING" and params.outPaintingMode == "DEFAULT":
                    mask = mask.filter(ImageFilter.GaussianBlur(radius=max(2, min(image.size) // 64)))
            else:
                mask_prompt = self.text(params.maskPrompt, f"{key}/maskPrompt", required=True)
                if kind == "OUTPAINTING":
                    raise ValidationException("OUTPAINTING with maskPrompt is not supported here; send maskImage.")
            prompts = self.prompts(key, params.text, params.negativeText, required=kind == "OUTPAINTING")
            return ImageTask(mode="inpaint", prompts=prompts, width=image.width, height=image.height,
                             init_image=image.convert("RGB"), mask=mask, mask_prompt=mask_prompt, **common), bool(params.returnMask)
        # COLOR_GUIDED_GENERATION
        self.check_size(config.width, config.height)
        colors = []
        for i, color in enumerate(params.colors):
            if len(color) != 7 or color[0] != "#" or any(c not in "0123456789abcdefABCDEF" for c in color[1:]):
                raise malformed(f'#/{key}/colors/{i}: string "{color}" does not match pattern ^#[0-9A-Fa-f]{{6}}$')
            colors.append(tuple(int(color[j: j + 2], 16) for j in (1, 3, 5)))
        palette = Image.new("RGB", (len(colors), 1))
        palette.putdata(colors)
        init = palette.resize((config.width, config.height), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(8))
        if params.referenceImage is not None:
            reference = self.image(params.referenceImage, f"{key}/referenceImage").convert("RGB").resize(init.size)
            init = Image.blend(reference, init, 0.5)
        return ImageTask(mode="img2img", prompts=self.prompts(key, params.text, params.negativeText, required=True),
                         width=config.width, height=config.height, init_image=init, strength=0.85, **common), False

    # -- guardrails ------------------------------------------------------------------------------
    def guarded_input(self, request: TitanImageRequest) -> tuple[list[tuple[str, str]], list[GuardedImage]]:
        """What a guardrail assesses on input: (member, text) of the prompt and maskPrompt, and every image."""
        kind = request.taskType
        key = PARAMS_KEY.get(kind, "")
        params = getattr(request, key, None)
        if params is None:
            return [], []
        texts = [(name, value) for name in ("text", "maskPrompt")
                 if isinstance(value := getattr(params, name, None), str) and value.strip()]
        images = [GuardedImage(f"{key}.{name}", value) for name in ("image", "maskImage", "conditionImage", "referenceImage")
                  if isinstance(value := getattr(params, name, None), str)]
        images += [GuardedImage(f"{key}.images.{i}", value) for i, value in enumerate(getattr(params, "images", None) or [])]
        return texts, images

    async def _guard_input(self, guard: ConverseGuard, request: TitanImageRequest) -> TitanImageRequest | None:
        """The request the model sees (masked where the guardrail anonymized), or None when blocked."""
        texts, images = self.guarded_input(request)
        verdict = await image_guardrail.check_input(guard, [t for _, t in texts], images)
        if verdict.blocked:
            return None
        if verdict.prompts is None:
            return request
        key = PARAMS_KEY[request.taskType]
        masked = {name: text for (name, _), text in zip(texts, verdict.prompts)}
        params = getattr(request, key).model_copy(update=masked)
        return request.model_copy(update={key: params})

    def _intervened(self, guard: ConverseGuard, source: str) -> InvokeReply:
        """Titan's answer to a filtered request (no images, the reason in `error`), with the guardrail's
        message and action. (When the model's own filter leaves no image, the family answers a
        ValidationException for the whole request instead; a guardrail's block keeps this body, which
        carries the action and trace.)"""
        body = {"images": [], "error": image_guardrail.blocked_message(guard, source), **response_fields(guard)}
        return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode())

    async def invoke_model(self, ctx: InvokeContext[ImageGenerator]) -> InvokeReply:
        require_json(ctx.content_type, ctx.accept)
        guard, raw = await open_guard(ctx)
        request = await off_loop(lambda: parse_body(TitanImageRequest, raw))
        task, return_mask = await off_loop(lambda: self.to_task(request))
        if guard is not None:
            seen = await self._guard_input(guard, request)
            if seen is None:
                return self._intervened(guard, "INPUT")
            if seen is not request:
                task, return_mask = await off_loop(lambda: self.to_task(seen))
        engine = await ctx.engine()
        check_parts(task, engine.capabilities)  # before any translation of a mask prompt
        if task.mask_prompt is not None:
            translator = self.options(ctx.entry).mask_prompt_translator
            task = replace(task, mask_prompt=await english_mask_prompt(ctx, task.mask_prompt, translator))
        result = await engine.generate(replace(task, progress=ctx.progress))
        kept = [image for image in result.images if not image.flagged]
        if not kept:
            raise ValidationException(BLOCKED_OUTPUT)
        flags = await image_guardrail.check_outputs(guard, kept) if guard is not None else [False] * len(kept)
        if all(flags):
            assert guard is not None
            return self._intervened(guard, "OUTPUT")
        body = output_body(len(result.images), kept, flags,
                           image_guardrail.blocked_message(guard, "OUTPUT") if guard is not None else "")
        if return_mask and result.mask_png is not None:
            body["maskImage"] = base64.b64encode(result.mask_png).decode()
        if guard is not None:
            body.update(response_fields(guard))
        return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode())


def output_body(generated: int, kept: list[GeneratedImage], flags: list[bool], blocked: str) -> dict[str, Any]:
    """The family's answer to a batch of which the model's filter dropped some (`generated` - len(kept)) and
    the guardrail blocked `flags` of the rest: the images left, and an `error` that counts each kind."""
    passed = [image for image, flag in zip(kept, flags) if not flag]
    body: dict[str, Any] = {"images": [base64.b64encode(image.png).decode() for image in passed]}
    errors = []
    if len(kept) < generated:
        errors.append(f"{generated - len(kept)} of {generated} images: {BLOCKED_OUTPUT}")
    if len(passed) < len(kept):
        errors.append(f"{len(kept) - len(passed)} of {generated} images: {blocked}")
    if errors:
        body["error"] = " ".join(errors)
    return body


def check_parts(task: ImageTask, capabilities: ImageCapabilities) -> None:
    """Refuse a task that needs a model this deployment lacks (conditioning, segmentation), in Titan's terms."""
    if task.control_image is not None and task.control_mode not in capabilities.control_modes:
        raise ValidationException(f"This model has no {task.control_mode.upper()} control model configured.")
    if task.mask_prompt is not None and not capabilities.mask_prompts:
        raise ValidationException("This model has no segmentation model configured for maskPrompt; send maskImage.")
    if task.mode == "remove_background" and task.mode not in capabilities.modes:
        raise ValidationException("This model has no segmentation model configured for BACKGROUND_REMOVAL.")
    check_capabilities(task, capabilities)


class TitanImageV2(TitanImageV1):
    name = "titan-image-v2"
    task_types = frozenset({*TitanImageV1.task_types, "COLOR_GUIDED_GENERATION", "BACKGROUND_REMOVAL"})
    conditioning = True


class NovaCanvas(TitanImageV2):
    name = "nova-canvas"
    max_text = 1024
    max_seed = 858_993_459
    default_seed = 12
    default_cfg = 6.5
    image_limits = ImageLimits(max_bytes=10 * 1024 * 1024, max_pixels=4_194_304, max_side=4096,
                               formats=frozenset({"PNG", "JPEG"}))

    def check_size(self, width: int, height: int) -> None:
        ok = (320 <= width <= 4096 and 320 <= height <= 4096 and width % 16 == 0 and height % 16 == 0
              and width * height <= 4_194_304 and 0.25 <= width / height <= 4.0)
        if not ok:
            raise ValidationException(
                f"The width x height {width}x{height} is not supported: each side must be 320..4096 pixels and divisible "
                f"by 16, the aspect ratio between 1:4 and 4:1, and at most 4,194,304 pixels in all."
            )
