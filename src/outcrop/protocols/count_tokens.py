"""CountTokens' own body (botocore's `CountTokensRequest`): a union of the InvokeModel body a model family
takes and the parts of a Converse request that reach the prompt. A chat protocol turns either into its task,
and the engine counts that task's prompt with the serving tokenizer, images included, as usage counts it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from outcrop.errors import ValidationException
from outcrop.protocols.validation import parse_body


class InvokeModelTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(description="The InvokeModel body, base64 (a blob on the wire).")


class ConverseTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Any] | None = None
    system: list[Any] | None = None
    toolConfig: dict[str, Any] | None = None
    additionalModelRequestFields: dict[str, Any] | None = None


class CountTokensInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invokeModel: InvokeModelTokens | None = None
    converse: ConverseTokens | None = None

    @model_validator(mode="after")
    def _one_member(self) -> CountTokensInput:
        if (self.invokeModel is None) == (self.converse is None):
            raise ValueError("exactly one of invokeModel or converse must be set")
        return self


class CountTokensRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: CountTokensInput


def counted_body(body: bytes) -> tuple[str, bytes]:
    """("invokeModel", the InvokeModel body) or ("converse", a Converse request body with those parts)."""
    request = parse_body(CountTokensRequest, body)
    if request.input.invokeModel is not None:
        try:
            return "invokeModel", base64.b64decode(request.input.invokeModel.body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationException("input.invokeModel.body is not valid base64.") from None
    assert request.input.converse is not None
    return "converse", json.dumps(request.input.converse.model_dump(exclude_none=True)).encode()


def count_reply(tokens: int) -> bytes:
    return json.dumps({"inputTokens": tokens}).encode()
