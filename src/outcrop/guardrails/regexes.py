"""Custom regexes of a sensitive-information policy, safe against catastrophic backtracking.

Two defences, both with the `regex` module's per-call timeout: at creation a pattern is run
against inputs built from its own literal characters that make nested quantifiers explode, and
refused if it does not finish in PROBE_TIMEOUT_S; at evaluation every search is bounded by
MATCH_TIMEOUT_S and a timeout is an error, never a silent "no match"."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import regex

from outcrop.errors import ValidationException

PROBE_TIMEOUT_S = 0.05
MATCH_TIMEOUT_S = 0.5
_PROBE_LENGTHS = (32, 2048)


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.VERSION0)


def _probes(pattern: str) -> Iterator[str]:
    chars = {c for c in pattern if c.isalnum() or c in " -_.@"} | {"a", "0", " "}
    for c in sorted(chars):
        for n in _PROBE_LENGTHS:
            yield c * n + "\x00"
            yield c * n + "!" + c


def check(pattern: str) -> str | None:
    """Why `pattern` cannot be used (a constraint message), or None when it is fine."""
    try:
        compiled_pattern = compiled(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        return f"Member must be a valid regular expression ({exc})"
    try:
        for probe in _probes(pattern):
            compiled_pattern.search(probe, timeout=PROBE_TIMEOUT_S)
    except TimeoutError:
        return ("Member must be a regular expression that matches in linear time: this pattern backtracks "
                "catastrophically (nested or overlapping quantifiers)")
    return None


def find(name: str, pattern: str, text: str) -> list[tuple[int, int]]:
    """Spans of the non-empty matches of `pattern` in `text`, time-bounded."""
    try:
        return [m.span() for m in compiled(pattern).finditer(text, timeout=MATCH_TIMEOUT_S) if m.end() > m.start()]
    except TimeoutError:
        raise ValidationException(f"The guardrail's regex '{name}' took longer than {MATCH_TIMEOUT_S} s to match the "
                                  "content and was stopped. Simplify the pattern.") from None
