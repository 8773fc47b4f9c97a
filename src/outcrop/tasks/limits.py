"""The one neutral refusal an engine may raise: a task past one of the limits the engine reports.

Engines know their limits (a context window, a token budget); only protocols know how their Bedrock
family words a refusal. An engine that can tell a task does not fit only once it has done part of the
work (a prompt's tokens, images included, are known once the prompt is tokenized) raises
`LimitExceeded`, and the protocol that asked turns it into its family's error.
"""

from __future__ import annotations


class LimitExceeded(Exception):
    """`kind` names the limit (see each task kind's limits), `limit` is the engine's value and `actual`
    the task's; `parts` breaks `actual` down where it is a sum (e.g. prompt and output tokens)."""

    def __init__(self, kind: str, limit: int, actual: int, **parts: int) -> None:
        super().__init__(f"{kind}: {actual} is over the limit of {limit}")
        self.kind = kind
        self.limit = limit
        self.actual = actual
        self.parts = parts
