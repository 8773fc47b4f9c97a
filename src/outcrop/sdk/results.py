"""Typed results: what came back, which model made it, with which seed, at what usage and latency,
so callers never parse Bedrock's response dicts themselves."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image as PILImage


@dataclass(frozen=True)
class Usage:
    """What one call (or a session) consumed: tokens in and out, images generated, diffusion steps
    requested, images read (analysed or embedded)."""

    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    steps: int = 0
    input_images: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.images + other.images, self.steps + other.steps, self.input_images + other.input_images)


@dataclass(frozen=True)
class GeneratedImage:
    """One output image as PNG (or the model's format) bytes, with the seed that made it when known."""

    data: bytes
    seed: int | None = None
    finish_reason: str | None = None

    @property
    def image(self) -> PILImage.Image:
        """The image decoded with Pillow."""
        from PIL import Image

        return Image.open(io.BytesIO(self.data))

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.data)
        return target


@dataclass(frozen=True)
class ImageResult:
    """Images from one generate/edit call. `seed` is the request's seed (chosen by the SDK when the
    caller gave none, so every result is reproducible)."""

    images: list[GeneratedImage]
    model_id: str
    seed: int | None
    usage: Usage
    latency_s: float
    request_ids: list[str] = field(default_factory=list)
    mask: bytes | None = None

    @property
    def data(self) -> bytes:
        """The first image's bytes."""
        return self.images[0].data

    @property
    def image(self) -> PILImage.Image:
        """The first image, decoded with Pillow."""
        return self.images[0].image


@dataclass(frozen=True)
class TextResult:
    """A chat answer."""

    text: str
    model_id: str
    stop_reason: str | None
    usage: Usage
    latency_s: float
    request_id: str | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ExtractResult:
    """Parsed JSON from `extract`: `data` is the plain JSON value, `value` the pydantic model
    instance when a model class was the schema (else the same as `data`); `repaired` says whether
    the answer needed the repair round."""

    data: Any
    value: Any
    text: str
    repaired: bool
    model_id: str
    usage: Usage
    latency_s: float


@dataclass(frozen=True)
class EmbeddingResult:
    """An L2-normalised Titan multimodal embedding."""

    vector: list[float]
    model_id: str
    input_tokens: int
    usage: Usage
    latency_s: float
    request_id: str | None = None

    @property
    def dimensions(self) -> int:
        return len(self.vector)


@dataclass(frozen=True)
class GuardrailResult:
    """What ApplyGuardrail decided: `intervened` when a policy blocked or masked, `outputs` the blocked
    message or the masked text (empty when nothing changed), `assessments` Bedrock's own list, and
    `response` the whole answer as it came (usage, coverage, actionReason), less botocore's metadata."""

    guardrail_id: str
    version: str
    action: str
    outputs: list[str]
    assessments: list[dict[str, Any]]
    latency_s: float
    request_id: str | None = None
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def intervened(self) -> bool:
        return self.action == "GUARDRAIL_INTERVENED"


@dataclass(frozen=True)
class SearchHit:
    """One image-search hit, best first; `extra` keeps fields newer servers add."""

    path: str
    score: float
    size: int | None = None
    mtime: float | None = None
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None
    content_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, hit: dict[str, Any]) -> SearchHit:
        known = {"path", "score", "size", "mtime", "width", "height", "taken_at", "content_hash"}
        return cls(**{k: hit.get(k) for k in known},  # type: ignore[arg-type]
                   extra={k: v for k, v in hit.items() if k not in known})
