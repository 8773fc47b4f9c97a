"""The streamer decodes incrementally (only the tail, with context tokens); its text and the deltas it
emits must equal a full decode of the same ids, for multi-byte text and arbitrary token ids."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from outcrop.engines.text_stream import StopAwareStreamer


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from outcrop.testing.builtin import materialize

    return AutoTokenizer.from_pretrained(materialize("tiny-qwen2.5-vl", Path(os.environ["OUTCROP_CACHE_DIR"])))


def stream(tokenizer, ids: list[int], stops: tuple[str, ...] = ()) -> tuple[StopAwareStreamer, list[str]]:  # type: ignore[no-untyped-def]
    import torch

    out: list[str] = []
    streamer = StopAwareStreamer(tokenizer, stops, out.append, set())
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt: skipped
    for token in ids:
        streamer.put(torch.tensor([token]))
        if streamer.finished:
            break
    streamer.end()
    return streamer, out


def test_incremental_text_equals_full_decode(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = "請求書 番号 A-1024 合計金額: 12,800円 café — ✓ 😀 hello world\n" * 40
    rng = random.Random(7)
    for ids in (tokenizer(text, add_special_tokens=False)["input_ids"],
                [rng.randrange(tokenizer.vocab_size) for _ in range(1500)]):
        streamer, out = stream(tokenizer, ids)
        full = tokenizer.decode(ids, skip_special_tokens=True)
        assert streamer.text == full
        assert "".join(out) == full
        assert streamer.generated == len(ids)


def test_stop_sequence_far_into_a_long_answer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = "一二三四五 abc " * 60 + "終わりSTOP残り"
    streamer, out = stream(tokenizer, tokenizer(text, add_special_tokens=False)["input_ids"], stops=("STOP",))
    assert streamer.stop_sequence == "STOP"
    assert streamer.text == text[: text.index("STOP")] == "".join(out)
