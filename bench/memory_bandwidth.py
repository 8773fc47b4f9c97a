"""How fast this machine streams weights through a matrix-vector product, the operation batch-1 decode is
made of: the ceiling on tokens/s is (bytes read per second) / (weight bytes per token).

    python bench/memory_bandwidth.py [--rows 11008 --cols 2048 --total-mb 1536 --seconds 3]

Prints GB/s for a plain copy (the memory's own ceiling) and for x @ W.T at one row in fp32, bf16 and the
int8 weight-only kernel the `cpu` profile decodes with (`aten._weight_int8pack_mm`), counting the bytes of
W each product reads. The default shape is one MLP projection of the `cpu` profile's 3B language model;
the products cycle through copies of it totalling `--total-mb`, as a model's layers do, so the figures
are the memory's and not the last-level cache's (server CPUs carry 100+ MB of it).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch


def rate(fns: list[Callable[[], object]], nbytes: int, seconds: float) -> float:
    """GB/s of calling `fns` in turn, each reading `nbytes`, over about `seconds` after a warm-up round."""
    for fn in fns:
        fn()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for fn in fns:
            fn()
        calls += len(fns)
    return calls * nbytes / (time.perf_counter() - started) / 1e9


def copies(make: Callable[[], torch.Tensor], total_bytes: int) -> list[torch.Tensor]:
    """Enough tensors from `make` to fill `total_bytes`: one would sit in the cache."""
    first = make()
    count = max(1, total_bytes // (first.numel() * first.element_size()))
    return [first] + [make() for _ in range(count - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=11008)
    parser.add_argument("--cols", type=int, default=2048)
    parser.add_argument("--total-mb", type=int, default=1536)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    total, shape = args.total_mb * 2**20, (args.rows, args.cols)
    x32, x16 = torch.randn(1, args.cols), torch.randn(1, args.cols, dtype=torch.bfloat16)
    scale = torch.ones(args.rows, dtype=torch.bfloat16)
    int8 = torch.ops.aten._weight_int8pack_mm
    print(f"{torch.get_num_threads()} threads; W {args.rows}x{args.cols}, {args.total_mb} MB of copies")
    with torch.inference_mode():
        sources = copies(lambda: torch.randn(shape), total // 2)
        targets = [torch.empty_like(t) for t in sources]
        moves = [lambda s=s, t=t: t.copy_(s) for s, t in zip(sources, targets, strict=True)]
        print(f"copy          {rate(moves, 2 * sources[0].numel() * 4, args.seconds):6.1f} GB/s (read + write)")
        del sources, targets, moves
        for name, dtype, x in (("fp32", torch.float32, x32), ("bf16", torch.bfloat16, x16)):
            weights = copies(lambda dtype=dtype: torch.randn(shape, dtype=dtype), total)
            products = [lambda w=w, x=x: x @ w.T for w in weights]
            print(f"gemv {name}     {rate(products, weights[0].numel() * weights[0].element_size(), args.seconds):6.1f} GB/s")
            del weights, products
        qweights = copies(lambda: torch.randint(-127, 128, shape, dtype=torch.int8), total)
        products = [lambda q=q: int8(x16, q, scale) for q in qweights]
        print(f"gemv int8 w/o {rate(products, qweights[0].numel(), args.seconds):6.1f} GB/s")


if __name__ == "__main__":
    main()
