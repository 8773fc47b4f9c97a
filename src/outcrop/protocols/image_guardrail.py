"""Guardrails on image generation: InvokeModel on the SDXL, SD3 / Stable Image (SD3.5 Large, Stable Image
Core and Ultra) and Titan Image / Nova Canvas families with the `X-Amzn-Bedrock-GuardrailIdentifier` and
`-GuardrailVersion` headers (`X-Amzn-Bedrock-Trace` for a trace).

On input the guardrail assesses the positive prompt texts (and Titan's maskPrompt) and every input image
(init, mask, condition, reference and variation images, SD3's image-to-image `image`) before the engine is
asked -- a blocked request never loads or runs the diffusion engine; a masked (ANONYMIZE) prompt reaches
the engine masked. On output it assesses each generated image on its own, so only the flagged images are
replaced (the trace lists one output assessment per image assessed). Bedrock's documentation says neither
whether negative prompts are assessed nor what an image model answers on intervention, so: negative
prompts are not assessed (they name what the picture must not show), and each family answers as it
answers its own content filter, plus `amazon-bedrock-guardrailAction` and, when traced,
`amazon-bedrock-trace` in the body (protocols/invoke_guardrail.py). `tagSuffix` is refused: an image
body has no tagged text to select."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import ConverseGuard, GuardedText
from outcrop.guardrails.evaluator import TextBlock
from outcrop.guardrails.service import MAX_IMAGE_BYTES, MAX_IMAGES
from outcrop.protocols.base import InvokeContext
from outcrop.protocols.invoke_guardrail import BODY_KEY, guardrail_request
from outcrop.tasks.image_generation import GeneratedImage

_GUARDED_FORMATS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # what a guardrail's image filters read: PNG, JPEG


@dataclass(frozen=True)
class GuardedImage:
    """One input image as the request carries it: its field (for errors) and base64 text."""

    field: str
    data: str


@dataclass(frozen=True)
class InputVerdict:
    """The input assessment as a protocol acts on it: blocked, or the prompts the engine is given
    (`prompts`, in the order they were passed, masked where the guardrail anonymized; None when the
    guardrail changed nothing)."""

    blocked: bool
    prompts: list[str] | None = None


async def open_guard(ctx: InvokeContext[Any]) -> tuple[ConverseGuard | None, bytes]:
    """The guardrail the headers name (resolved), and the body without `amazon-bedrock-guardrailConfig`."""
    request, body = guardrail_request(ctx.headers, ctx.body)
    if request is None:
        return None, body
    if request.tag_suffix is not None:
        raise ValidationException(f"{BODY_KEY}.tagSuffix is not supported for image generation models: the whole "
                                  "prompt is assessed. Remove tagSuffix.")
    return await ConverseGuard.open(ctx.guardrails, request.config), body


def _image_bytes(image: GuardedImage) -> bytes:
    """Bytes the protocol has already decoded and checked as an image, within the guardrail's own limit; a
    format the guardrail does not read (SD3's WEBP) is assessed as the same pixels in PNG."""
    raw = base64.b64decode(image.data)
    if len(raw) > MAX_IMAGE_BYTES:
        raise ValidationException(f"{image.field}: the image is {len(raw):,} bytes; a guardrail checks images of at "
                                  f"most {MAX_IMAGE_BYTES:,} bytes.")
    if raw.startswith(_GUARDED_FORMATS):
        return raw
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(raw)) as picture:
        picture.save(buffer, "PNG")
    return buffer.getvalue()


async def check_input(guard: ConverseGuard, prompts: Sequence[str], images: Sequence[GuardedImage]) -> InputVerdict:
    """Assess the prompts (blank ones are not assessed) and input images in one evaluation."""
    if len(images) > MAX_IMAGES:
        raise ValidationException(f"The request has {len(images)} images; a guardrail checks at most {MAX_IMAGES} "
                                  "images per request.")
    texts = [GuardedText(None, i, text) for i, text in enumerate(prompts) if text.strip()]
    outcome = await guard.check_input(texts, [_image_bytes(image) for image in images])
    if outcome.blocked:
        return InputVerdict(blocked=True)
    if outcome.action == "NONE":
        return InputVerdict(blocked=False)
    masked = iter(outcome.masked)
    return InputVerdict(blocked=False, prompts=[next(masked) if text.strip() else text for text in prompts])


async def prompts_blocked(guard: ConverseGuard, prompts: Sequence[str], images: Sequence[GuardedImage]) -> bool:
    """For a blocked input, whether its prompts alone are blocked (else its images were): a family whose
    filter says which (SD3's "Filter reason: prompt" / "input image") asks this. One more evaluation of the
    prompts only, not traced, and only when the request has images to tell apart."""
    if not images:
        return True
    blocks = [TextBlock(text) for text in prompts if text.strip()]
    if not blocks:
        return False
    return (await guard.service.evaluate(guard.guardrail, "INPUT", blocks)).blocked


async def check_outputs(guard: ConverseGuard, images: Sequence[GeneratedImage]) -> list[bool]:
    """Per generated image, whether the guardrail blocks it. Each image is its own evaluation (an evaluation
    says only that some image was flagged, not which), so the trace has one output assessment per image;
    an image the model's own filter already flagged is not assessed (False here)."""
    flags = []
    for image in images:
        flags.append(not image.flagged and (await guard.check_output_images([image.png])).blocked)
    return flags


def blocked_message(guard: ConverseGuard, source: str) -> str:
    key = "blockedInputMessaging" if source == "INPUT" else "blockedOutputsMessaging"
    return str(guard.guardrail.spec[key])
