"""Attention for a chat model on a CPU: SDPA, except in single-token decode steps.

PyTorch's CPU SDPA kernel is built for long queries; a decode step has one query row per head, and there it
costs 10-30x what a plain grouped matmul-softmax-matmul costs (one layer of the cpu profile's Qwen2.5-VL-3B,
16 query and 2 key/value heads, bf16, 2 cores: 557 vs 52 us over 400 cached tokens at batch 1, 2,263 vs 136
us at batch 4, 11,401 vs 372 us over 2,000 tokens at batch 4). Over 36 layers that was a fifth of every decode
step, and most of what a batch of concurrent chats added per step.

So the engine registers one more transformers attention implementation (`AttentionInterface`, with SDPA's
mask builder under the same name): prefill and the vision tower go to transformers' own SDPA function
unchanged; a one-token query is answered by the eager formula with the query grouped per key/value head,
so grouped-query attention reads the cache without repeating it. Written here because no library offers
a CPU decode kernel for this shape; it is the arithmetic of transformers' `eager_attention_forward`.
"""

from __future__ import annotations

from typing import Any

NAME = "outcrop_sdpa_cpu_decode"


def decode_aware_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                           scaling: float | None = None, dropout: float = 0.0, **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention signature: query (batch, heads, q, dim), key/value (batch, kv_heads, k, dim);
    returns (batch, q, heads, dim)."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, length, dim = query.shape
    kv_heads, keys = key.shape[1], key.shape[2]
    mask = attention_mask
    if mask is not None and mask.ndim == 4:
        mask = mask[:, :, :, :keys]
    plain = kwargs.get("softcap") is None and kwargs.get("position_bias") is None and not kwargs.get("output_attentions")
    if (length != 1 or module.training or not plain or heads % kv_heads
            or (mask is not None and (mask.ndim != 4 or mask.shape[1] != 1))):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2)) * (dim ** -0.5 if scaling is None else scaling)
    if mask is not None:  # (batch, 1, 1, keys): bool keep-mask or additive floats
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    output = torch.matmul(weights, value)  # (batch, kv_heads, groups, dim)
    return output.reshape(batch, 1, heads, dim), None


def register() -> str:
    """Make `NAME` a valid `attn_implementation` (idempotent); returns it."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(NAME, decode_aware_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
