"""Guardrails on image generation: InvokeModel on the SDXL and Titan Image / Nova Canvas families with the
`X-Amzn-Bedrock-GuardrailIdentifier` and `-GuardrailVersion` headers (`X-Amzn-Bedrock-Trace` for a trace).

On input the guardrail assesses the positive prompt texts (and Titan's maskPrompt) and every input image (init, mask, condition,
reference and variation images) before the engine is asked -- a blocked request never loads or runs the
diffusion engine; on output it assesses the generated images. Bedrock's documentation says neither
whether negative prompts are assessed nor what an image model answers on intervention, so: negative
prompts are not assessed (they name what the picture must not show), and each family answers as it
answers its own content filter, plus `amazon-bedrock-guardrailAction` and, when traced,
`amazon-bedrock-trace` in the body (protocols/invoke_guardrail.py). `tagSuffix` is refused: an image
body has no tagged text to select."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import ConverseGuard, GuardedText
from outcrop.guardrails.evaluator import Outcome
from outcrop.guardrails.service import MAX_IMAGE_BYTES, MAX_IMAGES
from outcrop.protocols.base import InvokeContext
from outcrop.protocols.invoke_guardrail import BODY_KEY, guardrail_request


@dataclass(frozen=True)
class GuardedImage:
    """One input image as the request carries it: its field (for errors) and base64 text."""

    field: str
    data: str


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
    """Bytes the protocol has already decoded and checked as PNG/JPEG, within the guardrail's own limit."""
    raw = base64.b64decode(image.data)
    if len(raw) > MAX_IMAGE_BYTES:
        raise ValidationException(f"{image.field}: the image is {len(raw):,} bytes; a guardrail checks images of at "
                                  f"most {MAX_IMAGE_BYTES:,} bytes.")
    return raw


async def check_input(guard: ConverseGuard, prompts: Sequence[str], images: Sequence[GuardedImage]) -> Outcome:
    if len(images) > MAX_IMAGES:
        raise ValidationException(f"The request has {len(images)} images; a guardrail checks at most {MAX_IMAGES} "
                                  "images per request.")
    texts = [GuardedText(None, i, text) for i, text in enumerate(prompts) if text.strip()]
    return await guard.check_input(texts, [_image_bytes(image) for image in images])


def blocked_message(guard: ConverseGuard, source: str) -> str:
    key = "blockedInputMessaging" if source == "INPUT" else "blockedOutputsMessaging"
    return str(guard.guardrail.spec[key])
