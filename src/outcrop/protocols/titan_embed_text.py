"""`amazon.titan-embed-text-v2:0` (Titan Text Embeddings V2) request and response bodies.

Bedrock's limits: 8,192 tokens or 50,000 characters of `inputText`; `dimensions` 1024 (default),
512 or 256; `normalize` (default true); `embeddingTypes` "float" and/or "binary". `embedding` is
always the float vector; `embeddingsByType` always appears, with "float" when nothing else was
asked. Binary values are one 0/1 per dimension (1 where the float is positive). Tokens are counted
by the serving model's tokenizer.
"""

from __future__ import annotations

import json
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols.text_embedding_common import as_binary_bits, check_dimensions, sized_text
from outcrop.protocols.validation import parse_body
from outcrop.tasks.text_embedding import TextEmbedder, TextEmbedTask

MAX_TOKENS = 8192
MAX_CHARS = 50_000


class TitanEmbedTextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputText: str = Field(min_length=1, max_length=MAX_CHARS, description="Text to embed.")
    dimensions: Literal[256, 512, 1024] = Field(1024, description="Length of the output vector.")
    normalize: bool = Field(True, description="Scale the vector to unit length.")
    embeddingTypes: list[Literal["float", "binary"]] | None = Field(None, min_length=1, max_length=2)


def _too_many_tokens(count: int) -> ValidationException:
    return ValidationException(f"400 Bad Request: Too many input tokens. Max input tokens: {MAX_TOKENS}, "
                               f"request input token count: {count}")


class TitanEmbedText(Protocol[TextEmbedder]):
    engine_interface = TextEmbedder
    name = "titan-embed-text-v2"
    operations = frozenset({INVOKE_MODEL})
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    output_modalities: ClassVar[tuple[str, ...]] = ("EMBEDDING",)

    async def invoke_model(self, ctx: InvokeContext[TextEmbedder]) -> InvokeReply:
        require_json(ctx.content_type, ctx.accept)
        request = parse_body(TitanEmbedTextRequest, ctx.body)
        engine: TextEmbedder = await ctx.engine()
        check_dimensions(engine, request.dimensions, "dimensions", ctx.model_id)
        text, tokens = sized_text(engine, request.inputText, MAX_TOKENS, None, None, _too_many_tokens, ctx.model_id)
        vector = await engine.embed(TextEmbedTask(text=text, dimensions=request.dimensions, normalize=request.normalize))
        by_type: dict[str, list[float] | list[int]] = {}
        for kind in dict.fromkeys(request.embeddingTypes or ["float"]):
            by_type[kind] = vector if kind == "float" else as_binary_bits(vector)
        body = {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_type}
        return InvokeReply(
            body=json.dumps(body).encode(),
            headers={"X-Amzn-Bedrock-Input-Token-Count": str(tokens), "X-Amzn-Bedrock-Output-Token-Count": "0"},
        )
