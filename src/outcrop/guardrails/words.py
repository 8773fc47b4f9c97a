"""The word policy's detector: custom words and phrases, and the managed PROFANITY list (English
and Japanese, in data/).

Text and words are compared after NFKC normalisation and case folding. Words written in a script
with spaces between words match whole tokens (a phrase matches a run of tokens), so "ass" never
fires inside "class"; words in Japanese, Chinese and other unspaced scripts match as substrings.
A matcher is built once per word list and cached, so 10,000 custom words cost one dictionary
lookup per token."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources

import regex

_TOKEN = regex.compile(r"[\p{L}\p{N}]+(?:['’][\p{L}]+)?")
_SPACED = regex.compile(r"^[\p{Latin}\p{Greek}\p{Cyrillic}\p{N}'’ .-]+$")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class WordMatcher:
    """Finds which of its words occur in a text; each word is reported once, as configured."""

    by_first_token: dict[str, tuple[tuple[tuple[str, ...], str], ...]]
    substrings: tuple[tuple[str, str], ...]

    def find(self, text: str) -> list[str]:
        norm = normalise(text)
        tokens = [m.group() for m in _TOKEN.finditer(norm)]
        found: dict[str, None] = {}
        for i, token in enumerate(tokens):
            for parts, word in self.by_first_token.get(token, ()):
                if tuple(tokens[i:i + len(parts)]) == parts:
                    found.setdefault(word)
        for needle, word in self.substrings:
            if needle in norm:
                found.setdefault(word)
        return list(found)


@functools.lru_cache(maxsize=64)
def matcher(words: tuple[str, ...]) -> WordMatcher:
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    substrings: list[tuple[str, str]] = []
    for word in words:
        norm = normalise(word).strip()
        if not norm:
            continue
        if _SPACED.match(norm):
            parts = tuple(m.group() for m in _TOKEN.finditer(norm))
            if parts:
                by_first.setdefault(parts[0], []).append((parts, word))
        else:
            substrings.append((norm, word))
    return WordMatcher({k: tuple(v) for k, v in by_first.items()}, tuple(substrings))


@functools.lru_cache(maxsize=1)
def profanity() -> tuple[str, ...]:
    """The managed PROFANITY list: every non-comment line of data/profanity_*.txt."""
    words: list[str] = []
    for name in ("profanity_en.txt", "profanity_ja.txt"):
        text = resources.files("outcrop.guardrails").joinpath("data", name).read_text(encoding="utf-8")
        words += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(words)
