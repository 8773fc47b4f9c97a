"""The `bedrock` control plane's foundation-model catalogue (ListFoundationModels,
GetFoundationModel) from the served model table: every id the profile serves, with what its
protocol takes and gives, whether it streams, and ON_DEMAND inference (no provisioned throughput,
no customisation here)."""

from __future__ import annotations

import re
from typing import Any

from outcrop.errors import ResourceNotFoundException, ValidationException
from outcrop.protocols import get_protocol
from outcrop.protocols.base import CONVERSE_STREAM, INVOKE_MODEL_STREAM
from outcrop.registry.model_table import ModelEntry, ModelTable

PROVIDERS = {"amazon": "Amazon", "anthropic": "Anthropic", "stability": "Stability AI", "cohere": "Cohere",
             "meta": "Meta", "mistral": "Mistral AI", "ai21": "AI21 Labs", "deepseek": "DeepSeek", "qwen": "Qwen"}
MODALITIES = ("TEXT", "IMAGE", "EMBEDDING")
_PROVIDER_PATTERN = re.compile(r"[A-Za-z0-9- ]{1,63}")
_IDENTIFIER = re.compile(
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}"
    r"[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})"
    r"([:][a-z0-9-]{1,63}){0,2})")


def provider_of(model_id: str) -> str:
    key = model_id.split(".", 1)[0]
    return PROVIDERS.get(key, key.capitalize())[:20]


def name_of(model_id: str) -> str:
    """A short display name from the id: `anthropic.claude-3-sonnet-20240229-v1:0` -> `Claude 3 Sonnet`."""
    core = model_id.split(".", 1)[-1].split(":", 1)[0]
    core = re.sub(r"-v\d+$", "", core)
    core = re.sub(r"-\d{8}$", "", core)
    words = [w.upper() if len(w) <= 2 and w.isalpha() else w.capitalize() for w in core.split("-")]
    return " ".join(words)[:20]


def summary(entry: ModelEntry, region: str) -> dict[str, Any]:
    protocol = get_protocol(entry.protocol)
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{entry.model_id}",
        "modelId": entry.model_id,
        "modelName": name_of(entry.model_id),
        "providerName": provider_of(entry.model_id),
        "inputModalities": list(protocol.input_modalities),
        "outputModalities": list(protocol.output_modalities),
        "responseStreamingSupported": bool({INVOKE_MODEL_STREAM, CONVERSE_STREAM} & protocol.operations),
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }


def _enum(value: str | None, path: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValidationException(f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
                                  f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")


def list_models(table: ModelTable, region: str, by_provider: str | None = None, by_output: str | None = None,
                by_inference: str | None = None, by_customization: str | None = None) -> dict[str, Any]:
    if by_provider is not None and not _PROVIDER_PATTERN.fullmatch(by_provider):
        raise ValidationException(f"1 validation error detected: Value '{by_provider}' at 'byProvider' failed to satisfy "
                                  "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9- ]{1,63}")
    _enum(by_output, "byOutputModality", MODALITIES)
    _enum(by_inference, "byInferenceType", ("ON_DEMAND", "PROVISIONED"))
    _enum(by_customization, "byCustomizationType", ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"))
    models = []
    for entry in sorted(table, key=lambda e: e.model_id):
        item = summary(entry, region)
        if by_provider is not None and by_provider.lower() not in (item["providerName"].lower(), entry.model_id.split(".")[0]):
            continue
        if by_output is not None and by_output not in item["outputModalities"]:
            continue
        if by_inference is not None and by_inference not in item["inferenceTypesSupported"]:
            continue
        if by_customization is not None:
            continue  # nothing here can be customised
        models.append(item)
    return {"modelSummaries": models}


def get_model(table: ModelTable, identifier: str, region: str) -> dict[str, Any]:
    if not _IDENTIFIER.fullmatch(identifier):
        raise ValidationException(f"1 validation error detected: Value '{identifier}' at 'modelIdentifier' failed to "
                                  "satisfy constraint: Member must satisfy regular expression pattern: "
                                  + _IDENTIFIER.pattern)
    try:
        entry = table.resolve(identifier)
    except ValidationException:
        raise ResourceNotFoundException(f"The model {identifier} was not found. Check the model identifier and try again.") from None
    return {"modelDetails": summary(entry, region)}
