"""What the CPU can do natively, asked of PyTorch first and of the kernel second.

bf16 pays on a CPU only where matmuls run in bf16 in hardware (AVX512-BF16 or AMX on x86, the BF16
extension on Arm): there it halves the bytes moved and doubles throughput. Elsewhere PyTorch emulates
it, which is slower than fp32, so `dtype = "auto"` must detect it, not assume it.
"""

from __future__ import annotations

import functools
import platform
import re
from pathlib import Path

# /proc/cpuinfo flags (x86 "flags", Arm "Features") that mean native bf16 matrix arithmetic.
_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


def _torch_says_bf16() -> bool | None:
    """PyTorch's own dispatch check (private helpers, present since 2.3); None when it cannot say."""
    try:
        import torch
    except ImportError:
        return None
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    answers = [bool(check()) for check in checks if callable(check)]
    return any(answers) if answers else None


def _cpuinfo_flags(text: str) -> set[str]:
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(re.split(r"\s+", value.strip()))
    return flags


def cpuinfo_says_bf16(text: str) -> bool:
    return bool(_cpuinfo_flags(text) & _BF16_FLAGS)


@functools.cache
def native_bf16() -> bool:
    """True where this CPU multiplies bf16 matrices in hardware."""
    answer = _torch_says_bf16()
    if answer:
        return True
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() == "Linux" and cpuinfo.exists():
        return cpuinfo_says_bf16(cpuinfo.read_text(errors="replace"))
    return False
