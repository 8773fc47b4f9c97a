"""Image content categories beyond SEXUAL -- VIOLENCE, HATE, INSULTS, MISCONDUCT -- by zero-shot
similarity in the profile's image-text embedding space (the Titan Multimodal Embeddings engine:
SigLIP 2 in the cpu/gpu profiles, a tiny random SigLIP in the test profile).

Each category has a few English descriptions of what Bedrock's image filters look for, and BENIGN
has near misses (a kitchen knife, a protest march, a boxing match in a ring...). An image's margin for
a category is its best cosine similarity to the category's descriptions minus its best similarity to
the BENIGN ones; `score = sigmoid(margin * SCALE)`. Not calibrated: this project has no labelled
harmful images and no real SigLIP weights offline, so SCALE and THRESHOLDS are a starting point
(margins of about 0.015, 0.025 and 0.045 for LOW, MEDIUM and HIGH), and the README says so. On the test
profile the same code runs on random weights, whose scores mean nothing."""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from outcrop.guardrails.content import Confidence, ImageDetector, Thresholds

if TYPE_CHECKING:
    from PIL import Image

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "VIOLENCE": (
        "a photo of a person being beaten or stabbed", "a gory photo of blood and wounds",
        "a photo of a shooting with a gun pointed at a person", "a photo of a dead body after a violent attack",
        "a photo of people fighting violently in the street", "an image of torture or an execution",
    ),
    "HATE": (
        "a swastika or other hate group symbol", "a racist caricature mocking an ethnic group",
        "a hate propaganda poster against a religion", "a burning cross of the Ku Klux Klan",
        "graffiti with a racial slur",
    ),
    "INSULTS": (
        "a person showing the middle finger", "an offensive hand gesture made at the camera",
        "a meme mocking and humiliating a person", "a picture with an insulting word written on it",
    ),
    "MISCONDUCT": (
        "a photo of illegal drugs and a syringe", "a photo of someone making methamphetamine in a lab",
        "a photo of a person stealing from a shop", "a photo of a homemade bomb", "a photo of counterfeit money being printed",
    ),
    "BENIGN": (
        "a photo of a kitchen knife on a cutting board", "a photo of a peaceful protest march",
        "a photo of a boxing match in a ring", "a photo of a person waving hello", "a photo of a pharmacy shelf",
        "a photo of a hospital operating room", "a photo of a landscape", "a photo of a family at dinner",
        "a photo of a street with shops", "a diagram or a chart", "a photo of a toy water gun", "a plain abstract pattern",
    ),
}
CATEGORIES = frozenset(c for c in DESCRIPTIONS if c != "BENIGN")
SCALE = 50.0
THRESHOLDS = Thresholds(low=0.68, medium=0.78, high=0.9)


class ImageTextEmbedder(Protocol):
    """Unit vectors in one image-text space (rows)."""

    def texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def images(self, images: Sequence[bytes]) -> np.ndarray: ...


class ZeroShotImageDetector:
    name = "zero-shot-image-text"
    categories = CATEGORIES

    def __init__(self, embedder: ImageTextEmbedder) -> None:
        self.embedder = embedder
        self._references: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def references(self) -> dict[str, np.ndarray]:
        """The descriptions' vectors, embedded once."""
        with self._lock:
            if self._references is None:
                names = list(DESCRIPTIONS)
                vectors = self.embedder.texts([d for n in names for d in DESCRIPTIONS[n]])
                out, row = {}, 0
                for name in names:
                    out[name] = vectors[row:row + len(DESCRIPTIONS[name])]
                    row += len(DESCRIPTIONS[name])
                self._references = out
            return self._references

    def margins(self, image: bytes, categories: Sequence[str]) -> dict[str, float]:
        wanted = [c for c in categories if c in self.categories]
        if not wanted:
            return {}
        refs = self.references()
        vector = self.embedder.images([image])[0]
        benign = float((refs["BENIGN"] @ vector).max())
        return {c: float((refs[c] @ vector).max()) - benign for c in wanted}

    def scores(self, image: bytes, categories: Sequence[str]) -> dict[str, float]:
        return {c: round(1.0 / (1.0 + math.exp(-SCALE * m)), 4) for c, m in self.margins(image, categories).items()}

    def confidence(self, category: str, score: float) -> Confidence:
        return THRESHOLDS.confidence(score)


class CombinedImageDetector:
    """Several image detectors as one: each category is scored by the first detector that knows it."""

    def __init__(self, *detectors: ImageDetector) -> None:
        self.detectors = detectors
        self.name = "+".join(d.name for d in detectors)
        self.categories = frozenset().union(*(d.categories for d in detectors))

    def _owner(self, category: str) -> ImageDetector:
        return next(d for d in self.detectors if category in d.categories)

    def scores(self, image: bytes, categories: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for detector in self.detectors:
            mine = [c for c in categories if c in detector.categories and c not in out]
            if mine:
                out.update(detector.scores(image, mine))
        return out

    def confidence(self, category: str, score: float) -> Confidence:
        return self._owner(category).confidence(category, score)


def decode_rgb(image: bytes) -> Image.Image:
    """PIL RGB image of png/jpeg bytes (for embedders that take pictures)."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as picture:
        return picture.convert("RGB")
