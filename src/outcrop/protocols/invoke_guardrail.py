"""Guardrails on InvokeModel / InvokeModelWithResponseStream: the `X-Amzn-Bedrock-GuardrailIdentifier`
and `-GuardrailVersion` headers (`X-Amzn-Bedrock-Trace: ENABLED|ENABLED_FULL` for a trace), and the
optional body member `amazon-bedrock-guardrailConfig {tagSuffix, streamProcessingMode}`.

With a `tagSuffix`, only the text inside `<amazon-bedrock-guardrails-guardContent_{suffix}>…
</amazon-bedrock-guardrails-guardContent_{suffix}>` is assessed, and the model sees it without the
tags. The response keeps the model's body, plus `amazon-bedrock-guardrailAction` (INTERVENED|NONE)
and, with a trace, `amazon-bedrock-trace: {guardrail: {input: {id: assessment}, outputs: [{id:
assessment}]}}`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import regex

from outcrop.errors import ValidationException
from outcrop.guardrails.enforce import ConverseGuard, GuardedText
from outcrop.protocols.converse_schema import GuardrailConfig
from outcrop.tasks.chat import ChatTask, TextPart

BODY_KEY = "amazon-bedrock-guardrailConfig"
_TRACES = {"ENABLED": "enabled", "ENABLED_FULL": "enabled_full", "DISABLED": "disabled"}


@dataclass(frozen=True)
class InvokeGuardrail:
    config: GuardrailConfig
    tag_suffix: str | None


def guardrail_request(headers: Mapping[str, str], body: bytes) -> tuple[InvokeGuardrail | None, bytes]:
    """The guardrail a request names, and its body without `amazon-bedrock-guardrailConfig`."""
    identifier = headers.get("x-amzn-bedrock-guardrailidentifier")
    version = headers.get("x-amzn-bedrock-guardrailversion")
    document: Any = None
    try:
        document = json.loads(body) if body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass  # the protocol's parser words the malformed body
    body_config = document.pop(BODY_KEY, None) if isinstance(document, dict) else None
    if body_config is not None:
        body = json.dumps(document).encode()
    if identifier is None:
        if body_config is not None:
            raise ValidationException(f"{BODY_KEY} is set but no guardrail is: send the X-Amzn-Bedrock-GuardrailIdentifier "
                                      "and X-Amzn-Bedrock-GuardrailVersion headers with it.")
        if version is not None:
            raise ValidationException("X-Amzn-Bedrock-GuardrailVersion needs X-Amzn-Bedrock-GuardrailIdentifier.")
        return None, body
    if not version:
        raise ValidationException("Guardrail version is required when a guardrail identifier is specified. "
                                  "Send the X-Amzn-Bedrock-GuardrailVersion header.")
    if body_config is not None and not isinstance(body_config, dict):
        raise ValidationException(f"{BODY_KEY} must be a JSON object.")
    body_config = body_config or {}
    unknown = set(body_config) - {"tagSuffix", "streamProcessingMode"}
    if unknown:
        raise ValidationException(f"{BODY_KEY}: unknown key {sorted(unknown)[0]}.")
    suffix = body_config.get("tagSuffix")
    if suffix is not None and (not isinstance(suffix, str) or not regex.fullmatch(r"[a-zA-Z0-9_]{1,20}", suffix)):
        raise ValidationException(f"{BODY_KEY}.tagSuffix must be 1 to 20 letters, digits or underscores.")
    mode = body_config.get("streamProcessingMode")
    if mode is not None and mode not in ("sync", "async"):
        raise ValidationException(f"{BODY_KEY}.streamProcessingMode must be sync or async.")
    trace = _TRACES.get((headers.get("x-amzn-bedrock-trace") or "DISABLED").upper(), "disabled")
    config = GuardrailConfig(guardrailIdentifier=identifier, guardrailVersion=version, trace=trace,
                             streamProcessingMode=mode)
    return InvokeGuardrail(config, suffix), body


def guarded_texts(task: ChatTask, suffix: str | None) -> tuple[ChatTask, list[GuardedText]]:
    """What the input assessment covers, and the task the model sees (tags removed)."""
    if suffix is None:
        return task, [GuardedText(i, j, p.text) for i, turn in enumerate(task.turns) for j, p in enumerate(turn.parts)
                      if isinstance(p, TextPart)]
    tag = regex.compile(rf"<amazon-bedrock-guardrails-guardContent_{regex.escape(suffix)}>(.*?)"
                        rf"</amazon-bedrock-guardrails-guardContent_{regex.escape(suffix)}>", regex.S)
    texts: list[GuardedText] = []
    turns = []
    for i, turn in enumerate(task.turns):
        parts = []
        for j, part in enumerate(turn.parts):
            if isinstance(part, TextPart):
                texts += [GuardedText(i, j, m.group(1)) for m in tag.finditer(part.text)]
                part = TextPart(tag.sub(lambda m: m.group(1), part.text))
            parts.append(part)
        turns.append(replace(turn, parts=tuple(parts)))
    return replace(task, turns=tuple(turns)), texts


def response_fields(guard: ConverseGuard) -> dict[str, Any]:
    """`amazon-bedrock-guardrailAction` and, when traced, `amazon-bedrock-trace` for the body."""
    outcomes = [o for o in [guard.input_outcome, *guard.output_outcomes] if o is not None]
    intervened = any(o.action != "NONE" for o in outcomes)
    fields: dict[str, Any] = {"amazon-bedrock-guardrailAction": "INTERVENED" if intervened else "NONE"}
    if guard.trace != "disabled":
        trace: dict[str, Any] = {}
        if guard.input_outcome is not None:
            trace["input"] = {guard.guardrail.id: guard.input_outcome.assessment}
        if guard.output_outcomes:
            trace["outputs"] = [{guard.guardrail.id: o.assessment} for o in guard.output_outcomes]
        fields["amazon-bedrock-trace"] = {"guardrail": trace}
    return fields
