"""The `bedrock` control plane's guardrail request shapes (botocore `bedrock` 2023-04-20) as pydantic
models, and the AWS (Coral) validation wording for their constraints: `1 validation error detected:
Value 'x' at 'a.b.1.member.c' failed to satisfy constraint: Member must ...`. Sensitive members are
named without their value, as AWS does."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outcrop.errors import ValidationException

M = TypeVar("M", bound=BaseModel)

PII_TYPES = (
    "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD", "PHONE",
    "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
    "VEHICLE_IDENTIFICATION_NUMBER",
)
PiiType = Literal[PII_TYPES]  # type: ignore[valid-type]
BlockOrNone = Literal["BLOCK", "NONE"]
SensitiveAction = Literal["BLOCK", "ANONYMIZE", "NONE"]
Tier = Literal["CLASSIC", "STANDARD"]


def _pattern(p: str) -> str:
    return f"^(?:{p})$"


def _text(low: int, high: int | None = None, pattern: str | None = None) -> Any:
    return Annotated[str, Field(min_length=low, max_length=high, pattern=_pattern(pattern) if pattern else None)]


GUARDRAIL_ID = "[a-z0-9]+"
GUARDRAIL_ARN = "arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+"
GUARDRAIL_IDENTIFIER = f"(({GUARDRAIL_ID})|({GUARDRAIL_ARN}))"
GUARDRAIL_VERSION = "(([1-9][0-9]{0,7})|(DRAFT))"
NUMERICAL_VERSION = "[1-9][0-9]{0,7}"
TOKEN = "[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"


class _Shape(BaseModel):
    # AWS JSON services ignore members they do not know; so do we.
    model_config = ConfigDict(extra="ignore")


class TierConfig(_Shape):
    tierName: Tier


class TopicConfig(_Shape):
    name: _text(1, 100, "[0-9a-zA-Z-_ !?.]+")  # type: ignore[valid-type]
    definition: _text(1, 200)  # type: ignore[valid-type]
    examples: Annotated[list[_text(1, 100)], Field(max_length=5)] | None = None  # type: ignore[valid-type]
    type: Literal["DENY"]
    inputAction: BlockOrNone | None = None
    outputAction: BlockOrNone | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class TopicPolicyConfig(_Shape):
    topicsConfig: Annotated[list[TopicConfig], Field(min_length=1, max_length=30)]
    tierConfig: TierConfig | None = None


Modalities = Annotated[list[Literal["TEXT", "IMAGE"]], Field(min_length=1, max_length=2)]


class ContentFilterConfig(_Shape):
    type: Literal["SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK"]
    inputStrength: Literal["NONE", "LOW", "MEDIUM", "HIGH"]
    outputStrength: Literal["NONE", "LOW", "MEDIUM", "HIGH"]
    inputModalities: Modalities | None = None
    outputModalities: Modalities | None = None
    inputAction: BlockOrNone | None = None
    outputAction: BlockOrNone | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class ContentPolicyConfig(_Shape):
    filtersConfig: Annotated[list[ContentFilterConfig], Field(min_length=1, max_length=6)]
    tierConfig: TierConfig | None = None


class WordConfig(_Shape):
    text: _text(1, 100)  # type: ignore[valid-type]
    inputAction: BlockOrNone | None = None
    outputAction: BlockOrNone | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class ManagedWordsConfig(_Shape):
    type: Literal["PROFANITY"]
    inputAction: BlockOrNone | None = None
    outputAction: BlockOrNone | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class WordPolicyConfig(_Shape):
    wordsConfig: Annotated[list[WordConfig], Field(min_length=1, max_length=10000)] | None = None
    managedWordListsConfig: list[ManagedWordsConfig] | None = None


class PiiEntityConfig(_Shape):
    type: PiiType
    action: SensitiveAction
    inputAction: SensitiveAction | None = None
    outputAction: SensitiveAction | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class RegexConfig(_Shape):
    name: _text(1, 100)  # type: ignore[valid-type]
    description: _text(1, 1000) | None = None  # type: ignore[valid-type]
    pattern: _text(1, 500)  # type: ignore[valid-type]
    action: SensitiveAction
    inputAction: SensitiveAction | None = None
    outputAction: SensitiveAction | None = None
    inputEnabled: bool | None = None
    outputEnabled: bool | None = None


class SensitiveInformationPolicyConfig(_Shape):
    piiEntitiesConfig: Annotated[list[PiiEntityConfig], Field(min_length=1)] | None = None
    regexesConfig: Annotated[list[RegexConfig], Field(min_length=1, max_length=30)] | None = None


class GroundingFilterConfig(_Shape):
    type: Literal["GROUNDING", "RELEVANCE"]
    threshold: Annotated[float, Field(ge=0, le=0.99)]
    action: BlockOrNone | None = None
    enabled: bool | None = None


class ContextualGroundingPolicyConfig(_Shape):
    filtersConfig: Annotated[list[GroundingFilterConfig], Field(min_length=1)]
    tierConfig: TierConfig | None = None


class AutomatedReasoningPolicyConfig(_Shape):
    policies: Annotated[list[_text(1, 2048)], Field(min_length=1, max_length=2)]  # type: ignore[valid-type]
    confidenceThreshold: Annotated[float, Field(ge=0, le=1)] | None = None


class CrossRegionConfig(_Shape):
    guardrailProfileIdentifier: _text(15, 2048)  # type: ignore[valid-type]


class Tag(_Shape):
    key: _text(1, 128, r"[a-zA-Z0-9\s._:/=+@-]*")  # type: ignore[valid-type]
    value: _text(0, 256, r"[a-zA-Z0-9\s._:/=+@-]*")  # type: ignore[valid-type]


class GuardrailSpec(_Shape):
    """What a guardrail is: the body of UpdateGuardrail, and of CreateGuardrail less tags and token."""

    name: _text(1, 50, "[0-9a-zA-Z-_]+")  # type: ignore[valid-type]
    description: _text(1, 200) | None = None  # type: ignore[valid-type]
    topicPolicyConfig: TopicPolicyConfig | None = None
    contentPolicyConfig: ContentPolicyConfig | None = None
    wordPolicyConfig: WordPolicyConfig | None = None
    sensitiveInformationPolicyConfig: SensitiveInformationPolicyConfig | None = None
    contextualGroundingPolicyConfig: ContextualGroundingPolicyConfig | None = None
    automatedReasoningPolicyConfig: AutomatedReasoningPolicyConfig | None = None
    crossRegionConfig: CrossRegionConfig | None = None
    blockedInputMessaging: _text(1, 500)  # type: ignore[valid-type]
    blockedOutputsMessaging: _text(1, 500)  # type: ignore[valid-type]
    kmsKeyId: _text(1, 2048) | None = None  # type: ignore[valid-type]


class CreateGuardrailRequest(GuardrailSpec):
    tags: Annotated[list[Tag], Field(max_length=200)] | None = None
    clientRequestToken: _text(1, 256, TOKEN) | None = None  # type: ignore[valid-type]


class CreateGuardrailVersionRequest(_Shape):
    description: _text(1, 200) | None = None  # type: ignore[valid-type]
    clientRequestToken: _text(1, 256, TOKEN) | None = None  # type: ignore[valid-type]


# Members whose shapes botocore marks `sensitive`: AWS names them in errors without their value.
_SENSITIVE = frozenset({"name", "description", "definition", "examples", "blockedInputMessaging",
                        "blockedOutputsMessaging", "inputAction", "outputAction", "inputModalities",
                        "outputModalities", "tierName", "action"})
_NOT_SENSITIVE_UNDER = frozenset({"regexesConfig", "piiEntitiesConfig"})


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"{item + 1}.member")
        elif isinstance(item, str) and not item.startswith(("literal[", "function-", "constrained-str", "list[")):
            parts.append(item)
    return ".".join(parts)


def _value(loc: tuple[Any, ...], value: Any) -> str:
    names = [p for p in loc if isinstance(p, str)]
    leaf = names[-1] if names else ""
    if value is None:  # nothing to hide in a missing member
        return "Value null"
    if leaf in _SENSITIVE and not (leaf in ("name", "action") and _NOT_SENSITIVE_UNDER & set(names)):
        return "Value"
    if isinstance(value, (list, dict)):
        return f"Value '{json.dumps(value, ensure_ascii=False)[:200]}'"
    return f"Value '{value}'"


def _constraint(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "Member must not be null"
    if kind in ("string_too_long", "too_long"):
        return f"Member must have length less than or equal to {ctx.get('max_length')}"
    if kind in ("string_too_short", "too_short"):
        return f"Member must have length greater than or equal to {ctx.get('min_length')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern.startswith("^(?:") and pattern.endswith(")$"):
            pattern = pattern[4:-2]
        return f"Member must satisfy regular expression pattern: {pattern}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"Member must satisfy enum value set: [{expected}]"
    if kind in ("greater_than_equal", "greater_than"):
        return f"Member must have value greater than or equal to {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"Member must have value less than or equal to {ctx.get('le', ctx.get('lt'))}"
    expected = {"string_type": "a string", "bool_type": "a boolean", "list_type": "a list", "model_type": "a structure",
                "model_attributes_type": "a structure", "float_type": "a number", "float_parsing": "a number",
                "dict_type": "a structure"}.get(kind)
    if expected:
        return f"Member must be {expected}"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_message(errors: list[dict[str, Any]]) -> str:
    details = [f"{_value(tuple(e['loc']), None if e['type'] == 'missing' else e.get('input'))} at "
               f"'{_path(tuple(e['loc']))}' failed to satisfy constraint: {_constraint(e)}" for e in errors]
    count = len(details)
    head = "1 validation error detected" if count == 1 else f"{count} validation errors detected"
    return f"{head}: {'; '.join(details[:10])}"


def validation_error(errors: list[dict[str, Any]]) -> ValidationException:
    return ValidationException(validation_message(errors))


def constraint_error(value: Any, path: str, constraint: str, sensitive: bool = False) -> ValidationException:
    shown = "Value" if sensitive else ("Value null" if value is None else f"Value '{value}'")
    return ValidationException(f"1 validation error detected: {shown} at '{path}' failed to satisfy constraint: {constraint}")


def parse_json(model: type[M], body: bytes, **members: Any) -> M:
    """A rest-json body (plus members bound from the path or query) validated as AWS does."""
    document: Any = {}
    if body and body.strip():
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValidationException("Unable to parse the request body as JSON.") from None
    if not isinstance(document, dict):
        raise ValidationException("Unable to parse the request body as JSON: expected an object.")
    document.update({k: v for k, v in members.items() if v is not None})
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as exc:
        raise validation_error(exc.errors(include_url=False)) from None


def check_pattern(value: str | None, path: str, pattern: str, sensitive: bool = False) -> None:
    import re

    if value is not None and not re.fullmatch(pattern, value):
        raise constraint_error(value, path, f"Member must satisfy regular expression pattern: {pattern}", sensitive)
