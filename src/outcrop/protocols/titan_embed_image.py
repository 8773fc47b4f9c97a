"""`amazon.titan-embed-image-v1` (Titan Multimodal Embeddings G1) request and response bodies.

Limits follow the stricter of AWS's published values (shared/spec §4c): 128 text tokens,
5 MB images, 2048×2048 pixels. Tokens are counted by the serving model's own tokenizer.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from outcrop.errors import ValidationException
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols.images import ImageLimits, decode_image
from outcrop.protocols.offload import off_loop
from outcrop.protocols.validation import parse_body
from outcrop.tasks.embedding import Embedder, EmbedTask

IMAGE_LIMITS = ImageLimits(max_bytes=5 * 1024 * 1024, max_pixels=2048 * 2048, max_side=4096)
# A 128-token text is never this long; longer ones are refused before tokenizing them.
MAX_TEXT_CHARS = 8192


class EmbeddingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outputEmbeddingLength: Literal[256, 384, 1024] = Field(1024, description="Length of the output vector.")


class TitanEmbedImageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputText: str | None = Field(None, description="Text to embed.")
    inputImage: str | None = Field(None, description="Base64 PNG, JPEG, WebP or GIF image to embed.")
    embeddingConfig: EmbeddingConfig | None = None

    @model_validator(mode="after")
    def _one_input(self) -> TitanEmbedImageRequest:
        if self.inputText is None and self.inputImage is None:
            raise ValueError("at least one of inputText or inputImage is required")
        return self


class TitanEmbedImageResponse(BaseModel):
    embedding: list[float]
    inputTextTokenCount: int
    message: str | None = None


def checked_tokens(engine: Embedder, task: EmbedTask) -> int:
    """The text's token count, after checking `task` against the engine's limits (before it is queued)."""
    limits = engine.limits
    tokens = engine.count_tokens(task.text) if task.text is not None else 0
    if tokens > limits.max_text_tokens:
        raise ValidationException(
            f"Malformed input request: input text is {tokens} tokens long, over this model's limit of "
            f"{limits.max_text_tokens} tokens. Shorten inputText and try again."
        )
    if task.dimensions > limits.dimensions:
        raise ValidationException(
            f"outputEmbeddingLength {task.dimensions} is larger than this model's {limits.dimensions} dimensions."
        )
    return tokens


class TitanEmbedImage(Protocol[Embedder]):
    engine_interface = Embedder
    name = "titan-embed-image"
    operations = frozenset({INVOKE_MODEL})
    input_modalities = ("TEXT", "IMAGE")
    output_modalities = ("EMBEDDING",)

    def parse(self, body: bytes) -> EmbedTask:
        request = parse_body(TitanEmbedImageRequest, body)
        if request.inputText is not None:
            if not request.inputText.strip():
                raise ValidationException("Malformed input request: inputText must not be empty, please reformat your input and try again.")
            if len(request.inputText) > MAX_TEXT_CHARS:
                raise ValidationException(
                    f"Malformed input request: inputText is {len(request.inputText):,} characters long; this model "
                    f"accepts at most 128 tokens. Shorten inputText and try again."
                )
        image = decode_image(request.inputImage, "inputImage", IMAGE_LIMITS) if request.inputImage is not None else None
        dimensions = request.embeddingConfig.outputEmbeddingLength if request.embeddingConfig else 1024
        return EmbedTask(text=request.inputText, image=image, dimensions=dimensions)

    async def invoke_model(self, ctx: InvokeContext[Embedder]) -> InvokeReply:
        require_json(ctx.content_type, ctx.accept)
        task = await off_loop(self.parse, ctx.body)
        engine = await ctx.engine()
        tokens = checked_tokens(engine, task)
        result = await engine.embed(task)
        response = TitanEmbedImageResponse(embedding=result.vector, inputTextTokenCount=tokens, message=None)
        return InvokeReply(
            body=json.dumps(response.model_dump()).encode(),
            headers={"X-Amzn-Bedrock-Input-Token-Count": str(tokens), "X-Amzn-Bedrock-Output-Token-Count": "0"},
        )
