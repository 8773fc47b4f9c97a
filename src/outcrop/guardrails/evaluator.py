"""Apply one stored guardrail to content and write Bedrock's ApplyGuardrail result: the action,
the outputs (blocked message or masked text), the assessments, usage and coverage.

Policies run in this order on every guarded text block: word filters, sensitive information
(PII recognizers and custom regexes), denied topics; then content filters over the guarded text and
the images (content_policy.py) and contextual grounding of the guarded text against the
`grounding_source` and `query` blocks (grounding.py). All of them run, so the assessment lists
every finding. A BLOCK finding replaces the content by the blocked message; ANONYMIZE findings
are masked in place as `{TYPE}` (PII) or `{name}` (regexes), as Bedrock masks them."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from outcrop.errors import ValidationException
from outcrop.guardrails import content_policy, grounding, pii, regexes, topics, words
from outcrop.guardrails.content import Detectors, default_detectors
from outcrop.guardrails.store import StoredGuardrail

Source = Literal["INPUT", "OUTPUT"]
_PAST = {"BLOCK": "BLOCKED", "ANONYMIZE": "ANONYMIZED", "NONE": "NONE"}
# Blocks with only these qualifiers are grounding material for contextual grounding, not guarded text.
_GROUNDING_ONLY = frozenset({"grounding_source", "query"})
# This server's bound on the text one evaluation guards (100 text units): the topic model's cost grows
# with the text, and a request past it is refused rather than partly checked.
MAX_GUARDED_CHARS = 100_000


@dataclass(frozen=True)
class TextBlock:
    text: str
    qualifiers: tuple[str, ...] = ()

    @property
    def guarded(self) -> bool:
        return not self.qualifiers or not set(self.qualifiers) <= _GROUNDING_ONLY


@dataclass
class Outcome:
    """The result of one evaluation, in the shapes ApplyGuardrail and the Converse trace use."""

    action: Literal["NONE", "GUARDRAIL_INTERVENED"]
    blocked: bool
    outputs: list[dict[str, str]]
    assessment: dict[str, Any]
    usage: dict[str, int]
    coverage: dict[str, Any]
    masked: list[str] = field(default_factory=list)  # each text block after masking (the input when not masked)

    @property
    def action_reason(self) -> str:
        if self.blocked:
            return "Guardrail blocked."
        return "Guardrail masked." if self.action == "GUARDRAIL_INTERVENED" else "No action."

    def response(self) -> dict[str, Any]:
        return {"usage": self.usage, "action": self.action, "actionReason": self.action_reason, "outputs": self.outputs,
                "assessments": [self.assessment], "guardrailCoverage": self.coverage}


def _direction(item: dict[str, Any], source: Source, default: str = "BLOCK") -> str | None:
    """The item's action for this source, or None when the item is disabled for it."""
    prefix = "input" if source == "INPUT" else "output"
    if item.get(f"{prefix}Enabled", True) is False:
        return None
    return str(item.get(f"{prefix}Action", item.get("action", default)))


def _units(blocks: list[TextBlock]) -> int:
    return sum(math.ceil(len(b.text) / 1000) for b in blocks if b.text)


def evaluate(guardrail: StoredGuardrail, source: Source, blocks: list[TextBlock], images: Sequence[bytes] = (),
             full: bool = False, detectors: Detectors | None = None) -> Outcome:
    """Evaluate `blocks` and `images` (decoded image bytes, already checked) against `guardrail`."""
    started = time.monotonic()
    spec = guardrail.spec
    guarded = [b for b in blocks if b.guarded]
    size = sum(len(b.text) for b in guarded)
    if size > MAX_GUARDED_CHARS:
        raise ValidationException(f"The content to guard has {size:,} characters; this server guards at most "
                                  f"{MAX_GUARDED_CHARS:,} characters (100 text units) per request.")
    word_policy = spec.get("wordPolicyConfig") or {}
    sensitive = spec.get("sensitiveInformationPolicyConfig") or {}
    topic_policy = spec.get("topicPolicyConfig") or {}

    custom_words: dict[str, str] = {}
    for item in word_policy.get("wordsConfig") or []:
        action = _direction(item, source)
        if action is not None:
            custom_words[item["text"]] = action
    managed = [(item["type"], action) for item in word_policy.get("managedWordListsConfig") or []
               if (action := _direction(item, source)) is not None]
    pii_actions = {item["type"]: action for item in sensitive.get("piiEntitiesConfig") or []
                   if (action := _direction(item, source)) is not None}
    regex_items = [(item, action) for item in sensitive.get("regexesConfig") or []
                   if (action := _direction(item, source)) is not None]
    topic_items = [(item, action) for item in topic_policy.get("topicsConfig") or []
                   if (action := _direction(item, source)) is not None]

    custom_found: dict[str, str] = {}
    managed_found: dict[str, str] = {}
    pii_found: list[dict[str, Any]] = []
    regex_found: list[dict[str, Any]] = []
    topic_best = [0.0 for _ in topic_items]
    masked: list[str] = []
    for block in blocks:
        if not block.guarded or not block.text:
            masked.append(block.text)
            continue
        text = block.text
        if custom_words:
            for word in words.matcher(tuple(custom_words)).find(text):
                custom_found.setdefault(word, custom_words[word])
        for _list_type, action in managed:
            for word in words.matcher(words.profanity()).find(text):
                managed_found.setdefault(word, action)
        replacements: list[tuple[int, int, str]] = []
        for entity in pii.detect(text, set(pii_actions)):
            action = pii_actions[entity.type]
            pii_found.append({"match": entity.text, "type": entity.type, "action": _PAST[action], "detected": True})
            if action == "ANONYMIZE":
                replacements.append((entity.start, entity.end, "{" + entity.type + "}"))
        for item, action in regex_items:
            for start, end in regexes.find(item["name"], item["pattern"], text):
                regex_found.append({"name": item["name"], "match": text[start:end], "regex": item["pattern"],
                                    "action": _PAST[action], "detected": True})
                if action == "ANONYMIZE":
                    replacements.append((start, end, "{" + item["name"] + "}"))
        if topic_items:
            block_scores = topics.scores(text, [(t["definition"], tuple(t.get("examples") or ())) for t, _ in topic_items])
            topic_best = [max(a, b) for a, b in zip(topic_best, block_scores)]
        masked.append(_mask(text, replacements))

    assessment: dict[str, Any] = {}
    actions: list[str] = []
    if custom_found or managed_found or (full and word_policy):
        assessment["wordPolicy"] = {
            "customWords": [{"match": w, "action": _PAST[a], "detected": True} for w, a in custom_found.items()],
            "managedWordLists": [{"match": w, "type": "PROFANITY", "action": _PAST[a], "detected": True}
                                 for w, a in managed_found.items()],
        }
        actions += list(custom_found.values()) + list(managed_found.values())
    if pii_found or regex_found or (full and sensitive):
        assessment["sensitiveInformationPolicy"] = {"piiEntities": pii_found, "regexes": regex_found}
        actions += [f["action"] for f in pii_found + regex_found]
    topic_entries = []
    for (item, action), score in zip(topic_items, topic_best):
        detected = score >= topics.TOPIC_THRESHOLD
        if detected:
            actions.append(action)
        if detected or full:
            topic_entries.append({"name": item["name"], "type": "DENY",
                                  "action": _PAST[action] if detected else "NONE", "detected": detected})
    if topic_entries:
        assessment["topicPolicy"] = {"topics": topic_entries}

    content = content_policy.assess(spec, source, [b.text for b in guarded], list(images),
                                    detectors or default_detectors(), full)
    if content.entries:
        assessment["contentPolicy"] = {"filters": content.entries}
    actions += content.actions
    grounding_entries = _grounding(spec, blocks, guarded)
    if grounding_entries:
        assessment["contextualGroundingPolicy"] = {"filters": grounding_entries}
        actions += [e["action"] for e in grounding_entries if e["detected"]]

    blocked = any(a in ("BLOCK", "BLOCKED") for a in actions)
    anonymized = any(a in ("ANONYMIZE", "ANONYMIZED") for a in actions)
    intervened = blocked or anonymized
    if blocked:
        message = spec["blockedInputMessaging"] if source == "INPUT" else spec["blockedOutputsMessaging"]
        outputs = [{"text": message}]
    elif anonymized:
        outputs = [{"text": t} for t in masked]
    else:
        outputs = []

    units = _units(guarded)
    usage = {
        "topicPolicyUnits": units if topic_items else 0,
        "contentPolicyUnits": units if content.text_checked else 0,
        "wordPolicyUnits": units if custom_words or managed else 0,
        "sensitiveInformationPolicyUnits": units if regex_items else 0,
        "sensitiveInformationPolicyFreeUnits": units if pii_actions else 0,
        "contextualGroundingPolicyUnits": _units(blocks) if grounding_entries else 0,
        "contentPolicyImageUnits": content.images_guarded,
    }
    total_chars = sum(len(b.text) for b in blocks)
    coverage: dict[str, Any] = {"textCharacters": {"guarded": sum(len(b.text) for b in guarded), "total": total_chars}}
    if images:
        coverage["images"] = {"guarded": content.images_guarded, "total": len(images)}
    assessment["invocationMetrics"] = {
        "guardrailProcessingLatency": int((time.monotonic() - started) * 1000),
        "usage": usage,
        "guardrailCoverage": coverage,
    }
    assessment["appliedGuardrailDetails"] = {
        "guardrailId": guardrail.id, "guardrailVersion": guardrail.version, "guardrailArn": guardrail.arn,
        "guardrailOrigin": ["REQUEST"], "guardrailOwnership": "SELF",
    }
    return Outcome(action="GUARDRAIL_INTERVENED" if intervened else "NONE", blocked=blocked, outputs=outputs,
                   assessment=assessment, usage=usage, coverage=coverage, masked=masked)


def _grounding(spec: dict[str, Any], blocks: list[TextBlock], guarded: list[TextBlock]) -> list[dict[str, Any]]:
    """GROUNDING and RELEVANCE entries: each needs its reference (`grounding_source`, `query`) and
    something guarded to score; without them the filter has nothing to measure and is left out."""
    filters = [f for f in (spec.get("contextualGroundingPolicyConfig") or {}).get("filtersConfig") or []
               if f.get("enabled", True) is not False]
    answer = [b.text for b in guarded if b.text.strip()]
    if not filters or not answer:
        return []
    references = {"GROUNDING": [b.text for b in blocks if "grounding_source" in b.qualifiers],
                  "RELEVANCE": [b.text for b in blocks if "query" in b.qualifiers]}
    scorer = {"GROUNDING": grounding.grounding, "RELEVANCE": grounding.relevance}
    entries = []
    for item in filters:
        if not references[item["type"]]:
            continue
        score = scorer[item["type"]](answer, references[item["type"]])
        detected = score < item["threshold"]
        entries.append({"type": item["type"], "threshold": item["threshold"], "score": score,
                        "action": "BLOCKED" if detected and item.get("action", "BLOCK") == "BLOCK" else "NONE",
                        "detected": detected})
    return entries


def _mask(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """`text` with each span replaced; of overlapping spans the earliest (then longest) wins."""
    out, cursor = [], 0
    for start, end, label in sorted(replacements, key=lambda r: (r[0], -(r[1] - r[0]))):
        if start < cursor:
            continue
        out += [text[cursor:start], label]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
