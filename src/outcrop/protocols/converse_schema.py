"""Converse / ConverseStream request shapes (botocore service model 2023-09-30), as pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Union(_Strict):
    """A Smithy union: exactly one member set."""

    @model_validator(mode="after")
    def _one_member(self) -> _Union:
        set_members = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(set_members) != 1:
            raise ValueError(f"exactly one member must be set, found {len(set_members)}")
        return self


class S3Location(_Strict):
    uri: str
    bucketOwner: str | None = None


class BinarySource(_Union):
    bytes: str | None = Field(None, description="Base64 data (boto3 encodes raw bytes).")
    s3Location: S3Location | None = None


class DocumentSource(_Union):
    bytes: str | None = None
    s3Location: S3Location | None = None
    text: str | None = None
    content: list[dict[str, str]] | None = None


class ImageBlock(_Strict):
    format: Literal["png", "jpeg", "gif", "webp"]
    source: BinarySource


class DocumentBlock(_Strict):
    format: Literal["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"] | None = None
    name: str = Field(min_length=1, max_length=200)
    source: DocumentSource
    context: str | None = None
    citations: dict[str, Any] | None = None


class ToolUseBlock(_Strict):
    toolUseId: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=64)
    input: Any
    type: str | None = None


class ToolResultBlock(_Strict):
    toolUseId: str = Field(min_length=1, max_length=64)
    content: list[dict[str, Any]]
    status: Literal["success", "error"] | None = None
    type: str | None = None


class GuardContentText(_Strict):
    text: str
    qualifiers: list[Literal["grounding_source", "query", "guard_content"]] | None = None


class GuardContentImage(_Strict):
    format: Literal["png", "jpeg"]
    source: BinarySource


class GuardContent(_Union):
    """Content a guardrail assesses (GuardrailConverseContentBlock); the model sees it too."""

    text: GuardContentText | None = None
    image: GuardContentImage | None = None


class GuardrailConfig(_Strict):
    """GuardrailConfiguration (Converse) and GuardrailStreamConfiguration (ConverseStream)."""

    guardrailIdentifier: str | None = None
    guardrailVersion: str | None = None
    trace: Literal["enabled", "disabled", "enabled_full"] | None = None
    streamProcessingMode: Literal["sync", "async"] | None = None


class ContentBlock(_Union):
    text: str | None = None
    image: ImageBlock | None = None
    document: DocumentBlock | None = None
    toolUse: ToolUseBlock | None = None
    toolResult: ToolResultBlock | None = None
    video: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    guardContent: GuardContent | None = None
    cachePoint: dict[str, Any] | None = None
    reasoningContent: dict[str, Any] | None = None
    citationsContent: dict[str, Any] | None = None
    searchResult: dict[str, Any] | None = None


class Message(_Strict):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]


class SystemBlock(_Union):
    text: str | None = Field(None, min_length=1)
    guardContent: GuardContent | None = None
    cachePoint: dict[str, Any] | None = None


class InferenceConfig(_Strict):
    maxTokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=1)
    topP: float | None = Field(None, ge=0, le=1)
    stopSequences: list[str] | None = Field(None, max_length=2500)


class ToolSpec(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = Field(None, min_length=1)
    inputSchema: dict[str, Any]
    strict: bool | None = None


class Tool(_Union):
    toolSpec: ToolSpec | None = None
    systemTool: dict[str, Any] | None = None
    cachePoint: dict[str, Any] | None = None


class ToolConfig(_Strict):
    tools: list[Tool] = Field(min_length=1)
    toolChoice: dict[str, Any] | None = None


class JsonSchemaStructure(_Strict):
    schema_: str = Field(alias="schema")
    name: str | None = None
    description: str | None = None


class TextFormat(_Strict):
    type: Literal["json_schema"]
    structure: dict[str, JsonSchemaStructure]


class OutputConfig(_Strict):
    textFormat: TextFormat | None = None


class ConverseRequest(_Strict):
    messages: list[Message] | None = None
    system: list[SystemBlock] | None = None
    inferenceConfig: InferenceConfig | None = None
    toolConfig: ToolConfig | None = None
    guardrailConfig: GuardrailConfig | None = None
    additionalModelRequestFields: dict[str, Any] | None = None
    additionalModelResponseFieldPaths: list[str] | None = Field(None, max_length=10)
    promptVariables: dict[str, Any] | None = None
    requestMetadata: dict[str, str] | None = None
    performanceConfig: dict[str, Any] | None = None
    serviceTier: dict[str, Any] | None = None
    outputConfig: OutputConfig | None = None
