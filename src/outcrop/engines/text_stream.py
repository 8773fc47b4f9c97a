"""Turn generated token ids into text deltas on the generation thread, with stop sequences.

Text that might be the start of a stop sequence (or of a held-back marker) is not sent until the
next tokens show it is not; a trailing U+FFFD (half of a multi-byte character split across byte
tokens) waits for the rest of the character.

For a batch, `RowStreamer` hands each row's token to that row's `StopAwareStreamer` (its own stop
sequences and token budget) and calls `on_finished(row)` the moment a row is
done, and `RowStops` tells `generate` which rows are done so they stop producing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any


_COMMIT_EVERY = 16  # tokens decoded again at most, besides the context
_CONTEXT_TOKENS = 4


def _partial_suffix(text: str, needles: Iterable[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `needles`."""
    best = 0
    for needle in needles:
        for size in range(min(len(needle) - 1, len(text)), best, -1):
            if text.endswith(needle[:size]):
                best = size
                break
    return best


class StopAwareStreamer:
    """A transformers streamer (`put`/`end`); the first `put` is the prompt and is skipped."""

    def __init__(
        self,
        tokenizer: Any,
        stop_sequences: Iterable[str],
        emit: Callable[[str], None],
        eos_ids: set[int],
    ) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stop_sequences if s)
        self.emit = emit
        self.eos_ids = eos_ids
        self.ids: list[int] = []
        self.text = ""
        self.sent = 0
        self.generated = 0
        self.hit_eos = False
        self.stop_sequence: str | None = None
        self.first_token_s: float | None = None
        self._started = time.monotonic()
        self._prompt_seen = False
        # Incremental decoding: text of ids[:_read] is `_committed`; each step decodes only
        # ids[_prefix:] (a few context tokens + the new ones) instead of every id again, which cost
        # 2 ms per token at 4,000 tokens (quadratic over a long answer).
        self._committed = ""
        self._prefix = 0
        self._read = 0
        self._head = ""

    @property
    def finished(self) -> bool:
        return self.stop_sequence is not None or self.hit_eos

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.put_tokens(value.reshape(-1).tolist())

    def put_tokens(self, tokens: list[int]) -> None:
        """Newly generated ids (no prompt), e.g. one row's token of a batch step."""
        if self.finished:
            return
        for token in tokens:
            if token in self.eos_ids:
                self.hit_eos = True
                break
            self.ids.append(int(token))
            self.generated += 1
        if self.first_token_s is None:
            self.first_token_s = time.monotonic() - self._started
        text = self._decode()
        found = [(text.find(stop, max(0, self.sent - len(stop))), stop) for stop in self.stops]
        found = [(at, stop) for at, stop in found if at >= 0]
        if found:
            at, self.stop_sequence = min(found)
            text = text[:at]
        self.text = text
        if self.stop_sequence is not None or self.hit_eos:
            self._send(len(text))
            return
        safe = len(text) - _partial_suffix(text, self.stops)
        while safe > self.sent and text[safe - 1] == "\ufffd":
            safe -= 1
        self._send(safe)

    def _decode(self) -> str:
        """The text of all ids so far, decoding only the uncommitted tail (with context tokens, so
        tokenizers whose pieces depend on their neighbours, e.g. a leading-space marker, decode right)."""
        window = self.tokenizer.decode(self.ids[self._prefix:], skip_special_tokens=True)
        if not window.startswith(self._head):  # the context decoded differently: start over from the full text
            text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        else:
            text = self._committed + window[len(self._head):]
        if len(self.ids) - self._read >= _COMMIT_EVERY and not text.endswith("\ufffd"):
            self._committed, self._read = text, len(self.ids)
            self._prefix = max(0, self._read - _CONTEXT_TOKENS)
            self._head = self.tokenizer.decode(self.ids[self._prefix:self._read], skip_special_tokens=True)
        return text

    def end(self) -> None:
        self._send(len(self.text))

    def _send(self, upto: int) -> None:
        if upto > self.sent:
            self.emit(self.text[self.sent:upto])
            self.sent = upto


class RowStreamer:
    """A transformers streamer for a left-padded batch: row i's tokens go to `rows[i]`.

    A row takes at most `max_new[i]` tokens and none once it finished (EOS, stop sequence) or its
    caller went away; the padding `generate` writes after a row stopped is never decoded. When a row
    is done, its streamer is flushed and `on_finished(i)` runs at once, so its answer need not wait
    for the rest of the batch.
    """

    def __init__(
        self,
        rows: Sequence[StopAwareStreamer],
        max_new: Sequence[int],
        cancelled: Sequence[threading.Event],
        on_finished: Callable[[int], None],
    ) -> None:
        self.rows = rows
        self.max_new = max_new
        self.cancelled = cancelled
        self.on_finished = on_finished
        self.closed = [False] * len(rows)
        self._prompt_seen = False

    def row_done(self, i: int) -> bool:
        row = self.rows[i]
        return row.finished or row.generated >= self.max_new[i] or self.cancelled[i].is_set()

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        tokens = value.reshape(-1).tolist()
        for i, token in enumerate(tokens):
            if self.closed[i]:
                continue
            if not self.cancelled[i].is_set():
                self.rows[i].put_tokens([int(token)])
            if self.row_done(i):
                self.close(i)

    def close(self, i: int) -> None:
        if not self.closed[i]:
            self.closed[i] = True
            self.rows[i].end()
            self.on_finished(i)

    def end(self) -> None:
        for i in range(len(self.rows)):
            self.close(i)


class RowStops:
    """A stopping criterion for a batch: a bool per row, true once the row was cancelled, its
    streamer saw a stop sequence, or it has its own `max_new` tokens (EOS is `generate`'s own check).
    `generate` runs this before streaming a step's tokens, so the budget is read from `input_ids`."""

    def __init__(self, streamer: RowStreamer, prompt_length: int) -> None:
        self.streamer = streamer
        self.prompt_length = prompt_length
        self.done = [False] * len(streamer.rows)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt_length
        s = self.streamer
        for i, row in enumerate(s.rows):
            if not self.done[i]:
                self.done[i] = s.cancelled[i].is_set() or row.stop_sequence is not None or generated >= s.max_new[i]
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)
