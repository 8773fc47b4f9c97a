"""JSON-constrained decoding: only tokens that keep the output a valid JSON prefix may be chosen.

`JsonPrefix` is a small incremental JSON recogniser (a character state machine with a stack).
`JsonLogitsProcessor` looks at the best-scoring candidates in order and keeps those whose text
keeps the output a valid prefix (the first valid one always survives, so greedy decoding costs
one or a few checks per token, not the whole vocabulary). When the value is complete only EOS may
follow; when the token budget runs short it forces the shortest closing text, so the answer is
valid JSON whenever maxTokens leaves room to close it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

_WS = " \t\n\r"
_NUMBER = set("0123456789+-.eE")
_LITERALS = {"t": "true", "f": "false", "n": "null"}


class JsonPrefix:
    """Feed characters; `feed` returns False at the first character no valid JSON text could have."""

    def __init__(self) -> None:
        self.stack: list[str] = []  # "{" or "["
        self.state = "value"  # value, string, escape, unicode, number, literal, after, key, colon, done
        self.is_key = False
        self.pending = ""  # rest of a literal, or hex digits left of a \\u escape
        self.number = ""
        self.first = True  # first element of the innermost container (allows an immediate close)

    def copy(self) -> JsonPrefix:
        return copy.copy(self) if not self.stack else _clone(self)

    @property
    def complete(self) -> bool:
        return self.state == "done" or (self.state == "number" and not self.stack and _number_ok(self.number))

    def closer(self) -> str:
        """The shortest text that completes the value from here."""
        out = ""
        state = self.state
        if state in ("string", "escape", "unicode"):
            out += "0" * len(self.pending) if state == "unicode" else ""
            out += '"' if state != "escape" else '""'
            if self.is_key:
                out += ":null"
        elif state == "literal":
            out += self.pending
        elif state == "number":
            out += "" if _number_ok(self.number) else "0"
        elif state == "value":
            out += "null" if not (self.stack and self.first and self.stack[-1] == "[") else ""
        elif state == "key":
            out += "" if self.first else '"":null'
        elif state == "colon":
            out += ":null"
        for opener in reversed(self.stack):
            out += "}" if opener == "{" else "]"
        return out

    def feed_text(self, text: str) -> bool:
        return all(self.feed(ch) for ch in text)

    def feed(self, ch: str) -> bool:
        s = self.state
        if s == "string":
            if ch == '"':
                self._end_value(key=self.is_key)
            elif ch == "\\":
                self.state = "escape"
            elif ord(ch) < 0x20:
                return False
            return True
        if s == "escape":
            if ch == "u":
                self.state, self.pending = "unicode", "xxxx"
                return True
            if ch in '"\\/bfnrt':
                self.state = "string"
                return True
            return False
        if s == "unicode":
            if ch not in "0123456789abcdefABCDEF":
                return False
            self.pending = self.pending[1:]
            if not self.pending:
                self.state = "string"
            return True
        if s == "literal":
            if ch != self.pending[0]:
                return False
            self.pending = self.pending[1:]
            if not self.pending:
                self._end_value()
            return True
        if s == "number":
            if ch in _NUMBER and _number_prefix_ok(self.number + ch):
                self.number += ch
                return True
            if not _number_ok(self.number):
                return False
            self._end_value()
            return self.feed(ch)
        if ch in _WS:
            return True
        if s == "value":
            if ch == '"':
                self.state, self.is_key = "string", False
            elif ch in "{[":
                self.stack.append(ch)
                self.state, self.first = ("key" if ch == "{" else "value"), True
            elif ch == "]" and self.stack and self.stack[-1] == "[" and self.first:
                self.stack.pop()
                self._end_value()
            elif ch in _LITERALS:
                self.state, self.pending = "literal", _LITERALS[ch][1:]
            elif ch == "-" or ch.isdigit():
                self.state, self.number = "number", ch
            else:
                return False
            return True
        if s == "key":
            if ch == '"':
                self.state, self.is_key = "string", True
                return True
            if ch == "}" and self.first:
                self.stack.pop()
                self._end_value()
                return True
            return False
        if s == "colon":
            if ch == ":":
                self.state = "value"
                return True
            return False
        if s == "after":
            top = self.stack[-1]
            if ch == ",":
                self.state, self.first = ("key" if top == "{" else "value"), False
                return True
            if (ch == "}" and top == "{") or (ch == "]" and top == "["):
                self.stack.pop()
                self._end_value()
                return True
            return False
        return False  # done: only whitespace may follow

    def _end_value(self, key: bool = False) -> None:
        self.is_key = False
        if key:
            self.state = "colon"
        else:
            self.state = "after" if self.stack else "done"


def _clone(p: JsonPrefix) -> JsonPrefix:
    c = copy.copy(p)
    c.stack = list(p.stack)
    return c


def _number_prefix_ok(text: str) -> bool:
    import re

    return re.fullmatch(r"-?(0|[1-9][0-9]*)?(\.[0-9]*)?([eE][+-]?[0-9]*)?", text) is not None and not (
        "." in text and re.search(r"(^-?\.)", text)
    )


def _number_ok(text: str) -> bool:
    import re

    return re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", text) is not None


class JsonLogitsProcessor:
    """A transformers logits processor that keeps one row of the batch (`row`) a valid JSON prefix.

    In a left-padded batch every row's prompt ends at the same `prompt_length`; other rows' scores
    pass through untouched, and `skip()` (a row that already stopped) makes it a no-op."""

    CANDIDATES = 64  # ranked candidates examined before widening the search to the whole vocabulary

    def __init__(
        self,
        tokenizer: Any,
        prompt_length: int,
        max_new_tokens: int,
        eos_ids: set[int],
        row: int = 0,
        skip: Callable[[], bool] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.max_new = max_new_tokens
        self.eos_ids = sorted(eos_ids)
        self.row = row
        self.skip = skip
        self._pieces: dict[int, str] = {}
        self._forced: list[int] = []

    def _state(self, generated: list[int]) -> tuple[JsonPrefix, bool]:
        text = self.tokenizer.decode(generated, skip_special_tokens=True).rstrip("\ufffd")
        state = JsonPrefix()
        return state, state.feed_text(text)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.skip is not None and self.skip():
            return scores
        out = scores.clone()
        out[self.row] = self._constrain(input_ids[self.row, self.prompt_length:].tolist(), scores[self.row])
        return out

    def _constrain(self, generated: list[int], scores: Any) -> Any:
        """One row's scores (a vector) with every token that would break the JSON prefix at -inf."""
        import torch

        state, ok = self._state(generated)
        mask = torch.full_like(scores, float("-inf"))
        if state.complete or not ok:
            mask[self.eos_ids] = 0
            return scores + mask
        remaining = self.max_new - len(generated)
        closer_ids = self.tokenizer.encode(state.closer(), add_special_tokens=False)
        if closer_ids and remaining <= len(closer_ids) + 1:
            mask[closer_ids[0]] = 0  # running out of budget: close the value now
            return scores + mask
        order = torch.argsort(scores, descending=True).tolist()
        raw_base = self.tokenizer.decode(generated, skip_special_tokens=True)
        base = raw_base.rstrip("\ufffd")
        allowed: list[int] = []
        for rank, token in enumerate(order):
            if rank >= self.CANDIDATES and allowed:
                break
            if token in self.eos_ids:
                continue
            text = self.tokenizer.decode(generated + [token], skip_special_tokens=True)
            if not text.startswith(base) or text == raw_base:
                continue
            trial = state.copy()
            if trial.feed_text(text[len(base):].rstrip("\ufffd")) and (not text.endswith("\ufffd") or trial.state == "string"):
                allowed.append(token)
        if not allowed:
            allowed = closer_ids[:1] or self.eos_ids
        mask[allowed] = 0
        return scores + mask
