"""Bedrock body families: one module each, pure Python and pydantic, no torch."""

from __future__ import annotations

import importlib
from functools import cache

from outcrop.protocols.base import Protocol

# protocol name in the model table -> "module:Class"
PROTOCOL_CLASSES: dict[str, str] = {
    "titan-embed-image": "outcrop.protocols.titan_embed_image:TitanEmbedImage",
    "titan-embed-text-v2": "outcrop.protocols.titan_embed_text:TitanEmbedText",
    "cohere-embed-v3": "outcrop.protocols.cohere_embed:CohereEmbedV3",
    "cohere-embed-v4": "outcrop.protocols.cohere_embed:CohereEmbedV4",
    "converse": "outcrop.protocols.converse:Converse",
    "nova-messages": "outcrop.protocols.nova_messages:NovaMessages",
    "nova-text-messages": "outcrop.protocols.nova_messages:NovaTextMessages",
    "anthropic-messages": "outcrop.protocols.anthropic_messages:AnthropicMessages",
    "stability-sdxl": "outcrop.protocols.stability_sdxl:StabilitySdxl",
    "stability-sd3": "outcrop.protocols.stability_sd3:StableDiffusion35",
    "stability-image-core": "outcrop.protocols.stability_sd3:StableImageCore",
    "stability-image-ultra": "outcrop.protocols.stability_sd3:StableImageUltra",
    "titan-image-v1": "outcrop.protocols.titan_image:TitanImageV1",
    "titan-image-v2": "outcrop.protocols.titan_image:TitanImageV2",
    "nova-canvas": "outcrop.protocols.titan_image:NovaCanvas",
}


@cache
def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOL_CLASSES:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOL_CLASSES))}")
    module_name, class_name = PROTOCOL_CLASSES[name].split(":")
    protocol: Protocol = getattr(importlib.import_module(module_name), class_name)()
    return protocol
