"""What the server holds for guardrails: the control plane over the store in the data directory,
and ApplyGuardrail's request shape and entry point, shared by the routes and by Converse."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.guardrails.control import DEFAULT_REGION, GuardrailControl
from outcrop.guardrails.evaluator import Outcome, Source, TextBlock, evaluate
from outcrop.guardrails.store import GuardrailStore, StoredGuardrail
from outcrop.guardrails.wire import parse_json

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
    """The guardrail store of one server, opened on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "guardrails" / "guardrails.db"
        self._control: GuardrailControl | None = None

    @property
    def control(self) -> GuardrailControl:
        if self._control is None:
            self._control = GuardrailControl(GuardrailStore(self.path))
        return self._control

    async def resolve(self, identifier: str, version: str | None) -> StoredGuardrail:
        return await asyncio.to_thread(self.control.resolve, identifier, version)

    async def evaluate(self, guardrail: StoredGuardrail, source: Source, blocks: list[TextBlock], images: int = 0,
                       full: bool = False) -> Outcome:
        """Detectors are CPU work (the topic model most): off the event loop."""
        return await asyncio.to_thread(evaluate, guardrail, source, blocks, images, full)

    async def apply(self, identifier: str, version: str, body: bytes) -> dict[str, Any]:
        """ApplyGuardrail: the request validated as Bedrock does, then evaluated."""
        request = parse_json(ApplyGuardrailRequest, body)
        guardrail = await self.resolve(identifier, version)
        blocks: list[TextBlock] = []
        images = 0
        for i, block in enumerate(request.content):
            if (block.text is None) == (block.image is None):
                raise ValidationException(f"1 validation error detected: Value at 'content.{i + 1}.member' failed to "
                                          "satisfy constraint: Member must have exactly one of text or image set")
            if block.text is not None:
                blocks.append(TextBlock(block.text.text, tuple(block.text.qualifiers or ())))
            else:
                assert block.image is not None
                _check_image(block.image, i)
                images += 1
        outcome = await self.evaluate(guardrail, request.source, blocks, images, request.outputScope == "FULL")
        return outcome.response()


def _check_image(image: ApplyImageBlock, index: int) -> None:
    try:
        data = base64.b64decode(image.source.bytes, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"content.{index + 1}.image.source.bytes is not valid base64.") from None
    magic = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}[image.format]
    if not data.startswith(magic):
        raise ValidationException(f"content.{index + 1}.image: the image bytes are not a {image.format} image.")
