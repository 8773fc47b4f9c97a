"""What the server holds for guardrails: the control plane over the store in the data directory,
and ApplyGuardrail's request shape and entry point, shared by the routes and by Converse."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.guardrails.content import Detectors, default_detectors
from outcrop.guardrails.control import DEFAULT_REGION, GuardrailControl
from outcrop.guardrails.engine_bridge import EngineChat, EngineEmbedder
from outcrop.guardrails.judge import JudgedImageDetector, JudgedTextDetector
from outcrop.guardrails.image_categories import CombinedImageDetector, ZeroShotImageDetector
from outcrop.guardrails.evaluator import Outcome, Source, TextBlock, evaluate
from outcrop.guardrails.store import GuardrailStore, StoredGuardrail
from outcrop.guardrails.wire import parse_json

# Bedrock's limits for images in a guardrail check: 4 MB and 8000 pixels a side each, 20 a request.
MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
MAX_IMAGES = 20
_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]{1,20})/")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ApplyTextBlock(_Shape):
    text: str
    qualifiers: list[Literal["grounding_source", "query", "guard_content"]] | None = None


class ApplyImageSource(_Shape):
    bytes: str = Field(min_length=1)


class ApplyImageBlock(_Shape):
    format: Literal["png", "jpeg"]
    source: ApplyImageSource


class ApplyContentBlock(_Shape):
    text: ApplyTextBlock | None = None
    image: ApplyImageBlock | None = None


class ApplyGuardrailRequest(_Shape):
    source: Literal["INPUT", "OUTPUT"]
    content: list[ApplyContentBlock]
    outputScope: Literal["INTERVENTIONS", "FULL"] | None = None


def region_of(authorization: str | None) -> str:
    """The signing region of a SigV4 request (the region an ARN names), else us-east-1."""
    match = _REGION.search(authorization or "")
    return match.group(1) if match else DEFAULT_REGION


class Guardrails:
    """The guardrail store of one server, opened on first use, and the detectors it evaluates with.

    `image_embedder`: the profile's image-text embedding engine (a loader of it); with one, images are
    also assessed for VIOLENCE, HATE, INSULTS and MISCONDUCT by zero-shot similarity
    (image_categories.py), beside open_nsfw for SEXUAL. `judge`: a chat engine that judges
    PROMPT_ATTACK and MISCONDUCT text with the exemplar detector (judge.py), and with `judge_images`
    every image category too, looking at the image."""

    def __init__(self, data_dir: Path, operator_file: Path | None = None,
                 image_embedder: Callable[[], Awaitable[Any]] | None = None,
                 judge: Callable[[], Awaitable[Any]] | None = None, judge_images: bool = False) -> None:
        self.path = data_dir / "guardrails" / "guardrails.db"
        self.operator_file = operator_file
        self._control: GuardrailControl | None = None
        self._bridges: list[EngineEmbedder | EngineChat] = []
        base = default_detectors()
        text, image = base.text, base.image
        if image_embedder is not None:
            embedder = EngineEmbedder(image_embedder)
            self._bridges.append(embedder)
            image = CombinedImageDetector(base.image, ZeroShotImageDetector(embedder))
        if judge is not None:
            chat = EngineChat(judge)
            self._bridges.append(chat)
            text = JudgedTextDetector(base.text, chat)
            if judge_images:
                image = JudgedImageDetector(image, chat)
        self.detectors = Detectors(text=text, image=image)

    @property
    def control(self) -> GuardrailControl:
        if self._control is None:
            from outcrop.guardrails import operator

            loaded = operator.load(self.operator_file) if self.operator_file else {}
            self._control = GuardrailControl(GuardrailStore(self.path), loaded)
        return self._control

    async def resolve(self, identifier: str, version: str | None) -> StoredGuardrail:
        return await asyncio.to_thread(self.control.resolve, identifier, version)

    async def evaluate(self, guardrail: StoredGuardrail, source: Source, blocks: list[TextBlock],
                       images: Sequence[bytes] = (), full: bool = False) -> Outcome:
        """Detectors are CPU work (the topic model most): off the event loop."""
        for bridge in self._bridges:
            bridge.bind(asyncio.get_running_loop())
        return await asyncio.to_thread(evaluate, guardrail, source, blocks, images, full, self.detectors)

    async def apply(self, identifier: str, version: str, body: bytes) -> dict[str, Any]:
        """ApplyGuardrail: the request validated as Bedrock does, then evaluated."""
        request = parse_json(ApplyGuardrailRequest, body)
        guardrail = await self.resolve(identifier, version)
        blocks: list[TextBlock] = []
        images: list[bytes] = []
        for i, block in enumerate(request.content):
            if (block.text is None) == (block.image is None):
                raise ValidationException(f"1 validation error detected: Value at 'content.{i + 1}.member' failed to "
                                          "satisfy constraint: Member must have exactly one of text or image set")
            if block.text is not None:
                blocks.append(TextBlock(block.text.text, tuple(block.text.qualifiers or ())))
            else:
                assert block.image is not None
                images.append(check_image(block.image.format, block.image.source.bytes, f"content.{i + 1}.image"))
        if len(images) > MAX_IMAGES:
            raise ValidationException(f"The request has {len(images)} images; a guardrail checks at most {MAX_IMAGES} "
                                      "images per request.")
        outcome = await self.evaluate(guardrail, request.source, blocks, images, request.outputScope == "FULL")
        return outcome.response()


def check_image(image_format: str, encoded: str, where: str) -> bytes:
    """The decoded bytes of a png/jpeg image block, after they are seen to be one that decodes."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"{where}.source.bytes is not valid base64.") from None
    magic = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}[image_format]
    if not data.startswith(magic):
        raise ValidationException(f"{where}: the image bytes are not a {image_format} image.")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationException(f"{where}: the image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes.")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            size = picture.size
            picture.verify()
    except Exception:  # PIL raises many types for broken files; all mean the same to the caller
        raise ValidationException(f"{where}: the {image_format} image could not be decoded.") from None
    if max(size) > MAX_IMAGE_SIDE:
        raise ValidationException(f"{where}: the image is {size[0]}x{size[1]} pixels; the limit is "
                                  f"{MAX_IMAGE_SIDE} pixels a side.")
    return data
