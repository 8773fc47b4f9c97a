"""Which Bedrock model answers each capability, and which body family a model id speaks.

One table (`ModelDefaults`) names the default model per capability; a caller overrides it at
construction (`MultimodalAssistant(models={"vision": "amazon.nova-lite-v1:0"})`) or per call
(`model=`). Family detection is the one place that knows SDXL bodies from Titan/Nova bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

from outcrop.sdk.errors import UnsupportedModelError

Capability = Literal["image", "edit", "vision", "embedding"]
ImageFamily = Literal["sdxl", "titan-v1", "titan-v2", "nova"]

# Inference-profile prefixes Bedrock puts before a model id (us.amazon.nova-lite-v1:0).
_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|us-gov|ca|jp|au|global)\.")


@dataclass(frozen=True)
class ModelDefaults:
    """Default model id per capability. The image and vision defaults are the seed's own ids, so the
    seed's two methods send exactly what it sent; edits default to Titan v2 (the first Titan with
    background removal); embeddings to Titan multimodal embeddings."""

    image: str = "stability.stable-diffusion-xl-v1"
    edit: str = "amazon.titan-image-generator-v2:0"
    vision: str = "anthropic.claude-3-sonnet-20240229-v1:0"
    embedding: str = "amazon.titan-embed-image-v1"

    def pick(self, capability: Capability, override: str | None = None) -> str:
        """The per-call `override` if given, else this table's entry."""
        return override or getattr(self, capability)

    @classmethod
    def of(cls, value: ModelDefaults | Mapping[str, str] | None) -> ModelDefaults:
        """A table from an instance, a partial mapping of capability → id, or None (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, ModelDefaults):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}; known: {sorted(known)}")
        return replace(cls(), **dict(value))


def base_model_id(model_id: str) -> str:
    """The foundation-model id behind an ARN or an inference-profile id, as price tables key it."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    return _PROFILE_PREFIX.sub("", model_id)


def image_family(model_id: str) -> ImageFamily:
    """The request-body family of an image model; other Stability models (SD3, Stable Image) speak
    a different body and are refused here rather than sent a body they would reject."""
    base = base_model_id(model_id)
    if base.startswith("stability.stable-diffusion-xl"):
        return "sdxl"
    if base.startswith("amazon.titan-image-generator-v1"):
        return "titan-v1"
    if base.startswith("amazon.titan-image-generator-v2"):
        return "titan-v2"
    if base.startswith("amazon.nova-canvas"):
        return "nova"
    raise UnsupportedModelError(f"{model_id}: not an image model this SDK knows the body of "
                                "(stability.stable-diffusion-xl-v1, amazon.titan-image-generator-v1/v2, amazon.nova-canvas-v1:0)")
