"""A test-only engine for fault tests: the real embedding engine (real tiny weights, real scheduler,
real worker thread) whose run path misbehaves when the input text asks it to.

No registry lists it: a `--models` file reaches it by its import reference,
`engine = "outcrop.testing.faults:FaultEngine"`, and no shipped profile does.
Commands (the start of `inputText`): `FAULT:raise` raises, `FAULT:oom` raises torch's CUDA
out-of-memory error, `FAULT:hang` blocks until the job is cancelled (deadline or client gone)
or `hang_s` passes, `FAULT:slow` works for `slow_s` and then answers normally (stopping early, like
a diffusion step callback, when its job is cancelled). `cancelled_runs` counts runs stopped early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from outcrop.engines.embedding import EmbeddingEngine, EmbeddingOptions
from outcrop.engines.scheduler import Job
from outcrop.tasks.embedding import EmbedResult, EmbedTask

logger = logging.getLogger(__name__)


class FaultOptions(EmbeddingOptions):
    hang_s: float = 60
    slow_s: float = 3


class FaultEngine(EmbeddingEngine):
    Options = FaultOptions
    options: FaultOptions
    cancelled_runs = 0

    def _run_batch(self, jobs: Sequence[Job[EmbedTask]]) -> list[EmbedResult]:
        for job in jobs:
            command = (job.item.text or "").split(" ", 1)[0]
            if command == "FAULT:raise":
                raise RuntimeError("injected engine failure")
            if command == "FAULT:oom":
                import torch

                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected by the fault engine)")
            if command == "FAULT:hang":
                started = time.monotonic()
                if job.cancelled.wait(self.options.hang_s):
                    logger.warning("fault engine: hang stopped after %.1f s because its job was cancelled", time.monotonic() - started)
                    raise RuntimeError("cancelled")
            if command == "FAULT:slow" and job.cancelled.wait(self.options.slow_s):
                self.cancelled_runs += 1
                logger.warning("fault engine: slow run stopped early because its job was cancelled")
                raise RuntimeError("cancelled")
        return super()._run_batch(jobs)
