"""The outcrop Python SDK: `MultimodalAssistant` over boto3's `bedrock-runtime` client, for Amazon
Bedrock and outcrop alike."""

from outcrop.sdk.assistant import MultimodalAssistant, TextStream
from outcrop.sdk.async_assistant import AsyncMultimodalAssistant, AsyncTextStream
from outcrop.sdk.errors import (
    AccessDeniedError,
    AssistantError,
    BedrockServiceError,
    ExtractionError,
    InternalServerError,
    ModelError,
    ModelNotReadyError,
    ModelTimeoutError,
    ResourceNotFoundError,
    SearchFailedError,
    ServiceQuotaExceededError,
    ServiceUnavailableError,
    ThrottlingError,
    UnsupportedModelError,
    UnsupportedOptionError,
    ValidationError,
)
from outcrop.sdk.media import Document
from outcrop.sdk.models import ModelDefaults
from outcrop.sdk.pricing import PRICES, EmbeddingPrice, ImagePrice, TokenPrice, UsageTally
from outcrop.sdk.results import (
    EmbeddingResult, ExtractResult, GeneratedImage, GuardrailResult, ImageResult, SearchHit, TextResult, Usage,
)

__all__ = [
    "PRICES", "AccessDeniedError", "AssistantError", "AsyncMultimodalAssistant", "AsyncTextStream", "BedrockServiceError", "Document", "EmbeddingPrice",
    "EmbeddingResult", "ExtractResult", "ExtractionError", "GeneratedImage", "GuardrailResult", "ImagePrice", "ImageResult",
    "InternalServerError", "ModelDefaults", "ModelError", "ModelNotReadyError", "ModelTimeoutError",
    "MultimodalAssistant", "ResourceNotFoundError", "SearchFailedError", "SearchHit", "ServiceQuotaExceededError",
    "ServiceUnavailableError", "TextResult", "TextStream", "ThrottlingError", "TokenPrice", "UnsupportedModelError",
    "UnsupportedOptionError", "Usage", "UsageTally", "ValidationError",
]
