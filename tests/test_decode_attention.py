"""The chat engine's CPU attention (outcrop/engines/decode_attention.py): transformers' SDPA except in
one-token decode steps, which must give SDPA's answer, with grouped-query heads and padding masks, and
leave greedy generation unchanged on the tiny Qwen2.5-VL."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from outcrop.engines import decode_attention

torch.manual_seed(0)
MODULE = SimpleNamespace(training=False, is_causal=True, num_key_value_groups=4)


def sdpa(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(MODULE, query, key, value, mask, scaling=0.125)[0]


@pytest.mark.parametrize("mask_kind", ["none", "bool", "additive"])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_decode_step_matches_sdpa(mask_kind: str, batch: int) -> None:
    heads, kv_heads, keys, dim = 8, 2, 37, 64
    query = torch.randn(batch, heads, 1, dim)
    key, value = torch.randn(batch, kv_heads, keys, dim), torch.randn(batch, kv_heads, keys, dim)
    keep = torch.ones(batch, 1, 1, keys + 5, dtype=torch.bool)  # longer than the keys, as a static cache's
    keep[-1, ..., :9] = False  # the last row is left-padded
    mask = {"none": None, "bool": keep,
            "additive": torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)}[mask_kind]
    ours, _ = decode_attention.decode_aware_attention(MODULE, query, key, value, mask, scaling=0.125)
    expected = sdpa(query, key, value, mask[..., :keys] if mask is not None else None)
    assert ours.shape == expected.shape == (batch, 1, heads, dim)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)


def test_longer_queries_are_sdpa_itself() -> None:
    query, key, value = torch.randn(2, 8, 5, 64), torch.randn(2, 2, 5, 64), torch.randn(2, 2, 5, 64)
    ours, _ = decode_attention.decode_aware_attention(MODULE, query, key, value, None, scaling=0.125)
    assert torch.equal(ours, sdpa(query, key, value, None))


def test_greedy_generation_is_unchanged_on_the_tiny_vlm(tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    from outcrop.testing.builtin import materialize

    folder = materialize("tiny-qwen2.5-vl", tmp_path)
    ids = torch.randint(5, 200, (2, 23))
    attention_mask = torch.ones_like(ids)
    attention_mask[1, :6] = 0  # a left-padded row, as a batch of chats has
    answers = []
    for implementation in ("sdpa", decode_attention.register()):
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32,
                                                            attn_implementation=implementation).eval()
        assert model.config._attn_implementation == implementation
        with torch.inference_mode():
            answers.append(model.generate(input_ids=ids, attention_mask=attention_mask, max_new_tokens=24,
                                          do_sample=False, pad_token_id=0))
    assert torch.equal(answers[0], answers[1])
