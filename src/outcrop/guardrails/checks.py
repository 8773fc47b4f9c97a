"""InvokeGuardrailChecks: inline checks with no stored guardrail, over chat messages, answered with
per-check scores (bedrock-runtime 2023-09-30). It reuses the guardrail detectors:

- contentFilter: each category's severity from the content text detector, the worst over every
  message's text.
- promptAttack: the PROMPT_ATTACK severity over the `user` messages only (system prompts read like
  instructions by design). The detector does not tell JAILBREAK, PROMPT_INJECTION and
  PROMPT_LEAKAGE apart: each asked category gets the same score.
- sensitiveInformation: every PII entity found, with its offsets in its message and content block;
  recognizers are patterns with checksums and NER, so the confidence is 1.0 for a checksum- or
  pattern-validated value and 0.85 for a NER name or address."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field

from outcrop.errors import ValidationException
from outcrop.guardrails import pii
from outcrop.guardrails.content import Detectors, default_detectors
from outcrop.guardrails.evaluator import MAX_GUARDED_CHARS
from outcrop.guardrails.wire import PiiType, _Shape

_NER_TYPES = frozenset({"NAME", "ADDRESS"})
# The results Bedrock returns at most for sensitive information; past it `truncated` is true.
MAX_ENTITIES = 1000


class ChecksContent(_Shape):
    text: Annotated[str, Field(min_length=1)] | None = None


class ChecksMessage(_Shape):
    role: Literal["user", "assistant", "system"]
    content: Annotated[list[ChecksContent], Field(min_length=1)]


class ContentCategory(_Shape):
    category: Literal["VIOLENCE", "HATE", "SEXUAL", "MISCONDUCT", "INSULTS"]


class AttackCategory(_Shape):
    category: Literal["JAILBREAK", "PROMPT_INJECTION", "PROMPT_LEAKAGE"]


class EntityType(_Shape):
    type: PiiType


class ContentFilterChecks(_Shape):
    categories: Annotated[list[ContentCategory], Field(min_length=1, max_length=5)]


class PromptAttackChecks(_Shape):
    categories: Annotated[list[AttackCategory], Field(min_length=1, max_length=3)]


class SensitiveChecks(_Shape):
    entities: Annotated[list[EntityType], Field(min_length=1, max_length=31)]


class Checks(_Shape):
    contentFilter: ContentFilterChecks | None = None
    promptAttack: PromptAttackChecks | None = None
    sensitiveInformation: SensitiveChecks | None = None


class InvokeGuardrailChecksRequest(_Shape):
    messages: Annotated[list[ChecksMessage], Field(min_length=1)]
    checks: Checks


def _units(texts: list[str]) -> int:
    return sum(math.ceil(len(t) / 1000) for t in texts if t)


def run(request: InvokeGuardrailChecksRequest, detectors: Detectors | None = None) -> dict[str, Any]:
    detectors = detectors or default_detectors()
    checks = request.checks
    if checks.contentFilter is None and checks.promptAttack is None and checks.sensitiveInformation is None:
        raise ValidationException("At least one check must be configured: contentFilter, promptAttack or "
                                  "sensitiveInformation.")
    located: list[tuple[int, int, str, str]] = []  # (message, content, role, text)
    for m, message in enumerate(request.messages):
        for c, block in enumerate(message.content):
            if block.text is None:
                raise ValidationException(f"1 validation error detected: Value at 'messages.{m + 1}.member.content."
                                          f"{c + 1}.member' failed to satisfy constraint: Member must have text set")
            located.append((m, c, message.role, block.text))
    texts = [t for *_, t in located]
    size = sum(len(t) for t in texts)
    if size > MAX_GUARDED_CHARS:
        raise ValidationException(f"The messages have {size:,} characters; this server checks at most "
                                  f"{MAX_GUARDED_CHARS:,} characters per request.")
    results: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    if checks.contentFilter is not None:
        categories = list(dict.fromkeys(c.category for c in checks.contentFilter.categories))
        scores = detectors.text.scores(texts, categories)
        results["contentFilter"] = {"results": [{"category": c, "severityScore": scores[c]} for c in categories]}
        usage["contentFilter"] = {"textUnits": _units(texts)}
    if checks.promptAttack is not None:
        user = [t for _, _, role, t in located if role == "user"]
        score = detectors.text.scores(user, ["PROMPT_ATTACK"])["PROMPT_ATTACK"] if user else 0.0
        categories = list(dict.fromkeys(c.category for c in checks.promptAttack.categories))
        results["promptAttack"] = {"results": [{"category": c, "severityScore": score} for c in categories]}
        usage["promptAttack"] = {"textUnits": _units(user)}
    if checks.sensitiveInformation is not None:
        wanted = {e.type for e in checks.sensitiveInformation.entities}
        found: list[dict[str, Any]] = []
        for m, c, _, text in located:
            for entity in pii.detect(text, wanted):
                found.append({"type": entity.type, "confidenceScore": 0.85 if entity.type in _NER_TYPES else 1.0,
                              "beginOffset": entity.start, "endOffset": entity.end, "messageIndex": m,
                              "contentIndex": c})
        results["sensitiveInformation"] = {"results": found[:MAX_ENTITIES], "truncated": len(found) > MAX_ENTITIES}
        usage["sensitiveInformation"] = {"textUnits": _units(texts)}
    return {"results": results, "usage": usage}
