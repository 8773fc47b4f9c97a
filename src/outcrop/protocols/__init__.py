"""Bedrock body families: one module each, pure Python and pydantic, no torch."""

from __future__ import annotations

from functools import cache
from typing import Any

from outcrop.protocols.base import Protocol
from outcrop.registry.plugins import PROTOCOL_GROUP, Plugins

# The built-in protocols by their name in the model table; `pyproject.toml` declares the same names as entry
# points of the `outcrop.protocols` group, where other packages add theirs (outcrop/registry/plugins.py).
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

PROTOCOLS = Plugins("protocol", PROTOCOL_GROUP, PROTOCOL_CLASSES)


@cache
def get_protocol(name: str) -> Protocol[Any]:
    """The one instance of the protocol a model table names."""
    protocol: Protocol[Any] = PROTOCOLS.load(name)()
    return protocol


def register_protocol(name: str, reference: str) -> None:
    """Serve `name` in a model table with the class at `reference` ("module:Class") in this process."""
    PROTOCOLS.register(name, reference)
    get_protocol.cache_clear()


def unregister_protocol(name: str) -> None:
    """Undo `register_protocol` (tests)."""
    PROTOCOLS.unregister(name)
    get_protocol.cache_clear()
