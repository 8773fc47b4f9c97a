"""Weight-only quantization of a chat model's language model for decoding on a CPU.

Decoding one token at batch 1 reads every weight once and does little arithmetic, so it is bound by
memory bandwidth: int8 weights move half of bf16's bytes, int4 a quarter. Prefill is the opposite
(compute-bound, hundreds of rows per matmul) and the weight-only kernels are slow there (PyTorch's
int4 CPU kernel took 4.5x bf16's time for 1,024 rows on this 2-core AMX machine), so each quantized
Linear keeps its bf16 weight for calls with more than `decode_rows` rows and runs the quantized kernel
for the rest: decode-only quantization, at the price of the quantized copy's memory (int8: +50 % of
the language model's bf16 bytes, int4: +25 %).

The kernels are PyTorch's own (`aten._weight_int8pack_mm`, per-output-channel symmetric int8; and
`aten._weight_int4pack_mm_for_cpu`, group-wise asymmetric int4 packed by torchao's
`PrototypeInt4WeightOnlyConfig`); nothing here is a hand-written kernel.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

logger = logging.getLogger(__name__)

Scheme = Literal["none", "int8", "int4"]
INT4_GROUP = 128


def _int8_linear(linear: Any) -> Any:
    import torch

    class Int8WeightOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            weight = linear.weight.detach().float()
            scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
            self.register_buffer("qweight", torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous())
            self.register_buffer("scale", scale.to(linear.weight.dtype))
            self.bias = linear.bias

        def forward(self, x: Any) -> Any:
            y = torch.ops.aten._weight_int8pack_mm(x.reshape(-1, x.shape[-1]), self.qweight, self.scale)
            y = y.reshape(*x.shape[:-1], y.shape[-1])
            return y + self.bias if self.bias is not None else y

    return Int8WeightOnly()


def _int4_linear(linear: Any) -> Any:
    import torch
    from torchao.prototype.quantization.int4.inference_workflow import PrototypeInt4WeightOnlyConfig
    from torchao.quantization import quantize_

    copy = torch.nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None,
                           dtype=linear.weight.dtype, device=linear.weight.device)
    copy.weight = torch.nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
    if linear.bias is not None:
        copy.bias = linear.bias
    quantize_(copy, PrototypeInt4WeightOnlyConfig(group_size=INT4_GROUP, set_inductor_config=False))
    return copy


def quantizable(linear: Any, scheme: Scheme) -> bool:
    return scheme == "int8" or linear.in_features % INT4_GROUP == 0


def decode_only(linear: Any, scheme: Scheme, decode_rows: int) -> Any:
    """`linear` behind a switch: the quantized kernel for at most `decode_rows` rows, bf16 above."""
    import torch

    quantized = _int8_linear(linear) if scheme == "int8" else _int4_linear(linear)

    class DecodeQuantized(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.full, self.quantized, self.decode_rows = linear, quantized, decode_rows
            self.in_features, self.out_features = linear.in_features, linear.out_features

        @property
        def weight(self) -> Any:  # what transformers reads (dtype, device, tied-weight checks)
            return self.full.weight

        def forward(self, x: Any) -> Any:
            rows = x.numel() // x.shape[-1]
            return self.quantized(x) if rows <= self.decode_rows else self.full(x)

    return DecodeQuantized()


def quantize_language_model(model: Any, scheme: Scheme, *, decode_rows: int = 16) -> int:
    """Swap the Linear layers of `model`'s language model (its decoder layers and LM head; never the
    vision tower) for decode-only quantized ones. Returns how many were swapped; 0 when the weights are
    not bf16 (the kernels take bf16 activations), with a log line."""
    import torch

    if scheme == "none":
        return 0
    if model.dtype != torch.bfloat16:
        logger.warning("quantize=%s skipped: it needs bf16 weights (this model runs %s)", scheme, model.dtype)
        return 0
    decoder = _language_model(model)
    targets = [(parent, name, child) for parent in decoder.modules() for name, child in parent.named_children()
               if isinstance(child, torch.nn.Linear) and quantizable(child, scheme)]
    head = getattr(model, "lm_head", None)
    if isinstance(head, torch.nn.Linear) and quantizable(head, scheme):
        targets.append((model, "lm_head", head))
    for parent, name, child in targets:
        setattr(parent, name, decode_only(child, scheme, decode_rows))
    logger.info("quantize=%s: %d linear layers of the language model decode with %s weights", scheme, len(targets), scheme)
    return len(targets)


def _language_model(model: Any) -> Any:
    inner = getattr(model, "model", model)
    for name in ("language_model", "text_model"):
        if hasattr(inner, name):
            return getattr(inner, name)
    raise ValueError(f"cannot find the language model of {type(model).__name__} to quantize")
