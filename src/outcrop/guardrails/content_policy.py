"""The content policy of one evaluation: which filters act for this source and modality, what the
detectors say, and the `contentPolicy.filters` entries Bedrock writes.

A filter acts on text when its modalities for this source include TEXT (the default when none are
set), on images when they include IMAGE and the image detector knows the category. An entry per
acting filter: `confidence` from the detector, `filterStrength`, `action` BLOCKED when the
confidence reaches the strength and the filter's action is BLOCK (NONE otherwise), `detected`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outcrop.guardrails.content import Detectors, blocks


@dataclass
class ContentResult:
    entries: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    images_guarded: int = 0
    text_checked: bool = False


def _acting(spec: dict[str, Any], source: str) -> list[tuple[str, str, str, list[str]]]:
    """(type, strength, action, modalities) of each filter enabled for `source` with a strength."""
    prefix = "input" if source == "INPUT" else "output"
    out = []
    for item in (spec.get("contentPolicyConfig") or {}).get("filtersConfig") or []:
        strength = item.get(f"{prefix}Strength", "NONE")
        if item.get(f"{prefix}Enabled", True) is False or strength == "NONE":
            continue
        out.append((item["type"], strength, item.get(f"{prefix}Action", "BLOCK"),
                    item.get(f"{prefix}Modalities") or ["TEXT"]))
    return out


def assess(spec: dict[str, Any], source: str, texts: list[str], images: list[bytes], detectors: Detectors,
           full: bool) -> ContentResult:
    result = ContentResult()
    filters = _acting(spec, source)
    if not filters:
        return result
    text_types = [f[0] for f in filters if "TEXT" in f[3]]
    image_types = [f[0] for f in filters if "IMAGE" in f[3] and f[0] in detectors.image.categories]
    worst: dict[str, tuple[float, str]] = {}  # type -> (score, confidence) over text and images
    if text_types and any(t.strip() for t in texts):
        result.text_checked = True
        for category, score in detectors.text.scores(texts, text_types).items():
            worst[category] = (score, detectors.text.confidence(category, score))
    if image_types:
        for image in images:
            result.images_guarded += 1
            for category, score in detectors.image.scores(image, image_types).items():
                confidence = detectors.image.confidence(category, score)
                if category not in worst or score > worst[category][0]:
                    worst[category] = (score, confidence)
    for category, strength, action, _ in filters:
        if category not in worst:
            continue
        confidence = worst[category][1]
        detected = blocks(confidence, strength)
        acted = "BLOCKED" if detected and action == "BLOCK" else "NONE"
        if detected:
            result.actions.append(acted)
        if detected or full:
            result.entries.append({"type": category, "confidence": confidence, "filterStrength": strength,
                                   "action": acted, "detected": detected})
    return result
