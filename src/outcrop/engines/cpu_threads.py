"""How torch's CPU worker threads wait, chosen before torch loads.

OpenMP's default is to spin after every parallel region. When the cores have other work (the event
loop writing stream frames, the HTTP client, other processes) the spinning workers hold the cores
and each op then waits for a descheduled worker. Measured on a loaded 2-core machine (notes/vision.md):
64 tokens of the tiny VLM took 1.5–7.5 s with the default and 0.08–0.14 s with
OMP_WAIT_POLICY=PASSIVE; ConverseStream went from ~10 to ~150 tok/s. libgomp reads the variable
once, when it loads (with torch), so this must run before the first `import torch`.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def configure_openmp() -> None:
    """Set the OpenMP wait policy unless the user chose one (their environment wins)."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    if "torch" in sys.modules:
        logger.debug("torch was imported before the OpenMP settings; they may not take effect")


def apply_cpu_threads(threads: int | None) -> None:
    """`torch.set_num_threads` for an engine's `cpu_threads` option (process-wide in torch)."""
    if not threads:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(int(threads))
        logger.info("torch intra-op threads set to %d", threads)
