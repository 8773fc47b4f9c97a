"""Cohere Embed on InvokeModel: `cohere.embed-english-v3`, `cohere.embed-multilingual-v3` (v3 bodies)
and `cohere.embed-v4:0` (v4 bodies), over a text embedding engine.

v3: `texts` (up to 96, 2,048 characters each, 512 tokens each) or `images`, `input_type`,
`truncate` NONE/START/END, `embedding_types`; 1024-d vectors. Without `embedding_types` the answer
is `embeddings_floats` (a list of vectors); with it `embeddings_by_type` (vectors by type).
v4: `texts`, `images` or `inputs` (interleaved content parts), `output_dimension` 256/512/1024/1536
(default 1536), `max_tokens` (per input, up to 128,000), `truncate` NONE/LEFT/RIGHT; always answered
by type. `input_type` picks the serving model's matching prompt ("query" for search_query,
"document" for search_document) where the model has one. Vectors are L2-normalised; the quantised
types are described in protocols/text_embedding_common.py.

Images are refused: the text embedding models that serve these ids here do not read images, and a
vector from another model would not share their space (text-to-image search would silently fail).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from outcrop.errors import ValidationException
from outcrop.protocols.base import INVOKE_MODEL, InvokeContext, InvokeReply, Protocol, require_json
from outcrop.protocols.text_embedding_common import check_dimensions, quantised, sized_text
from outcrop.protocols.validation import malformed, parse_body
from outcrop.tasks.text_embedding import Side, TextEmbedder, TextEmbedTask

MAX_INPUTS = 96
V3_MAX_CHARS = 2048
V3_MAX_TOKENS = 512
V3_DIMENSIONS = 1024
V4_MAX_TOKENS = 128_000
EmbeddingType = Literal["float", "int8", "uint8", "binary", "ubinary"]
InputType = Literal["search_document", "search_query", "classification", "clustering"]
_PROMPTS = {"search_query": "query", "search_document": "document", "classification": "classification",
            "clustering": "clustering"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohereV3Request(_Strict):
    texts: list[Annotated[str, Field(max_length=V3_MAX_CHARS)]] | None = Field(None, max_length=MAX_INPUTS)
    images: list[str] | None = Field(None, max_length=1)
    input_type: InputType | Literal["image"]
    truncate: Literal["NONE", "START", "END"] = "NONE"
    embedding_types: list[EmbeddingType] | None = Field(None, min_length=1)


class ContentPart(_Strict):
    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: str | None = None


class CohereInput(_Strict):
    content: list[ContentPart] = Field(min_length=1)


class CohereV4Request(_Strict):
    input_type: InputType
    texts: list[str] | None = Field(None, max_length=MAX_INPUTS)
    images: list[str] | None = Field(None, max_length=MAX_INPUTS)
    inputs: list[CohereInput] | None = Field(None, max_length=MAX_INPUTS)
    embedding_types: list[EmbeddingType] | None = Field(None, min_length=1)
    output_dimension: Literal[256, 512, 1024, 1536] = 1536
    max_tokens: int = Field(V4_MAX_TOKENS, ge=1, le=V4_MAX_TOKENS)
    truncate: Literal["NONE", "LEFT", "RIGHT"] = "NONE"


def _no_images(model_id: str) -> ValidationException:
    return ValidationException(
        f"This server serves {model_id} with a text-only embedding model, so it does not embed images. "
        "Send texts, or embed images with amazon.titan-embed-image-v1."
    )


def _one_of(present: dict[str, bool]) -> None:
    given = [name for name, there in present.items() if there]
    if len(given) != 1:
        names = " or ".join(present)
        raise malformed(f"#: exactly one of {names} is required, found {len(given)}" if given
                        else f"#: one of {names} is required")


async def _embed_all(ctx: InvokeContext[TextEmbedder], texts: list[str], limit: int, truncate: Side | None, input_type: str,
                     dimensions: int, field: str) -> tuple[list[list[float]], int]:
    engine: TextEmbedder = await ctx.engine()
    check_dimensions(engine, dimensions, field, ctx.model_id)
    prompt = _PROMPTS[input_type] if _PROMPTS.get(input_type) in engine.prompt_names else None
    sized = []
    for i, text in enumerate(texts):
        def too_long(count: int, i: int = i) -> ValidationException:
            return malformed(f"#/texts/{i}: the text is {count} tokens long, over this model's limit of {limit} "
                             "tokens; shorten it or set truncate")
        sized.append(sized_text(engine, text, limit, truncate, prompt, too_long, ctx.model_id))
    vectors = await asyncio.gather(*(engine.embed(TextEmbedTask(text=t, dimensions=dimensions, prompt_name=prompt))
                                     for t, _ in sized))
    return list(vectors), sum(tokens for _, tokens in sized)


def _by_type(vectors: list[list[float]], types: Sequence[str]) -> dict[str, list[Any]]:
    return {kind: [quantised(v, kind) for v in vectors] for kind in dict.fromkeys(types)}


def _reply(body: dict[str, Any], tokens: int) -> InvokeReply:
    return InvokeReply(body=json.dumps(body, ensure_ascii=False).encode(),
                       headers={"X-Amzn-Bedrock-Input-Token-Count": str(tokens), "X-Amzn-Bedrock-Output-Token-Count": "0"})


class CohereEmbedV3(Protocol[TextEmbedder]):
    engine_interface = TextEmbedder
    name = "cohere-embed-v3"
    operations = frozenset({INVOKE_MODEL})
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    output_modalities: ClassVar[tuple[str, ...]] = ("EMBEDDING",)

    async def invoke_model(self, ctx: InvokeContext[TextEmbedder]) -> InvokeReply:
        require_json(ctx.content_type, ctx.accept)
        request = parse_body(CohereV3Request, ctx.body)
        _one_of({"texts": request.texts is not None, "images": request.images is not None})
        if request.images is not None or request.input_type == "image":
            raise _no_images(ctx.model_id)
        texts = request.texts or []
        sides: dict[str, Side | None] = {"NONE": None, "START": "start", "END": "end"}
        truncate = sides[request.truncate]
        vectors, tokens = await _embed_all(ctx, texts, V3_MAX_TOKENS, truncate, request.input_type, V3_DIMENSIONS,
                                           "embedding size")
        body: dict[str, Any] = {"id": str(uuid.uuid4())}
        if request.embedding_types is None:
            body |= {"embeddings": vectors, "response_type": "embeddings_floats"}
        else:
            body |= {"embeddings": _by_type(vectors, request.embedding_types), "response_type": "embeddings_by_type"}
        body["texts"] = texts
        return _reply(body, tokens)


class CohereEmbedV4(Protocol[TextEmbedder]):
    engine_interface = TextEmbedder
    name = "cohere-embed-v4"
    operations = frozenset({INVOKE_MODEL})
    input_modalities: ClassVar[tuple[str, ...]] = ("TEXT",)
    output_modalities: ClassVar[tuple[str, ...]] = ("EMBEDDING",)

    async def invoke_model(self, ctx: InvokeContext[TextEmbedder]) -> InvokeReply:
        require_json(ctx.content_type, ctx.accept)
        request = parse_body(CohereV4Request, ctx.body)
        _one_of({"texts": request.texts is not None, "images": request.images is not None,
                 "inputs": request.inputs is not None})
        if request.images is not None:
            raise _no_images(ctx.model_id)
        texts = request.texts or []
        for i, item in enumerate(request.inputs or []):
            parts = []
            for j, part in enumerate(item.content):
                if part.type == "image_url":
                    raise _no_images(ctx.model_id)
                if part.text is None:
                    raise malformed(f"#/inputs/{i}/content/{j}: required key [text] not found")
                parts.append(part.text)
            texts.append("\n".join(parts))
        sides: dict[str, Side | None] = {"NONE": None, "LEFT": "start", "RIGHT": "end"}
        truncate = sides[request.truncate]
        vectors, tokens = await _embed_all(ctx, texts, request.max_tokens, truncate, request.input_type,
                                           request.output_dimension, "output_dimension")
        body = {"id": str(uuid.uuid4()), "embeddings": _by_type(vectors, request.embedding_types or ["float"]),
                "response_type": "embeddings_by_type", "texts": texts}
        return _reply(body, tokens)
