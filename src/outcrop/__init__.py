"""outcrop: Amazon Bedrock's multimodal runtime on your own hardware.

Importing the package is cheap on purpose: torch, transformers and diffusers load only when an
engine first needs them, and boto3 only when the SDK (`outcrop.MultimodalAssistant`) is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from outcrop.sdk import AsyncMultimodalAssistant, MultimodalAssistant

__all__ = ["AsyncMultimodalAssistant", "MultimodalAssistant", "__version__"]


def __getattr__(name: str) -> Any:
    """`outcrop.MultimodalAssistant` (and its async twin) import the SDK (and boto3) on first access only."""
    if name in ("MultimodalAssistant", "AsyncMultimodalAssistant"):
        import outcrop.sdk

        return getattr(outcrop.sdk, name)
    raise AttributeError(f"module 'outcrop' has no attribute {name!r}")
