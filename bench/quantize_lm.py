"""Decode tokens/s and memory of the chat model's language model per weight scheme (bf16, int8, int4
decode-only; outcrop/engines/quantization.py), in-process on the random-weight Qwen2.5-VL-3B of
bench/random_hub.py, same run, same prompt:

    python bench/quantize_lm.py [--hub .cache/random-hub] [--tokens 48] [--schemes none,int8,int4] [--attention sdpa]

Attention is the engine's CPU default (SDPA, one-token decode steps by outcrop/engines/decode_attention.py)
unless `--attention` names a transformers implementation.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hub", type=Path, default=ROOT / ".cache" / "random-hub")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--prompt-tokens", type=int, default=330)
    parser.add_argument("--schemes", default="none,int8,int4")
    parser.add_argument("--attention", default="auto", help="auto: the engine's; or sdpa, eager, ...")
    args = parser.parse_args()
    import torch
    from transformers import AutoModelForImageTextToText

    from outcrop.engines import decode_attention
    from outcrop.engines.quantization import quantize_language_model
    from random_hub import snapshot_dir

    folder = snapshot_dir(args.hub, "Qwen/Qwen2.5-VL-3B-Instruct")
    torch.set_grad_enabled(False)
    attention = decode_attention.register() if args.attention == "auto" else args.attention
    for scheme in args.schemes.split(","):
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation=attention).eval()
        quantize_language_model(model, scheme)  # type: ignore[arg-type]
        ids = torch.randint(1000, 100000, (1, args.prompt_tokens))
        model.generate(input_ids=ids[:, :16], max_new_tokens=4, min_new_tokens=4, do_sample=False)  # warm-up
        started = time.perf_counter()
        model.generate(input_ids=ids, max_new_tokens=1, min_new_tokens=1, do_sample=False)
        prefill = time.perf_counter() - started
        started = time.perf_counter()
        model.generate(input_ids=ids, max_new_tokens=args.tokens + 1, min_new_tokens=args.tokens + 1, do_sample=False)
        decode = args.tokens / max(time.perf_counter() - started - prefill, 1e-9)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(f"{scheme:5s} prefill {args.prompt_tokens} tokens {prefill:6.2f} s   decode {decode:6.2f} tok/s   "
              f"peak RSS {rss:5.1f} GB   load {os.getloadavg()[0]:.1f}", flush=True)
        del model


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    main()
