"""One reading of an unexpected engine failure, for every place that turns one into an answer: the
invoke path (outcrop/runtime.py), the diffusion worker's per-request results and the scheduler."""

from __future__ import annotations

import gc
import sys

from outcrop.errors import ModelErrorException


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA, MPS), or an allocator's "out of memory" from a CPU kernel."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def release_device_memory() -> None:
    """After an out-of-memory error, hand cached blocks back so the next request can allocate."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def public_failure(exc: BaseException, model_id: str, request_id: str) -> ModelErrorException:
    """What a client is told: the kind of failure and the request id to find it in the log, never its text."""
    what = "ran out of memory" if is_out_of_memory(exc) else "encountered an error"
    return ModelErrorException(f"The model {what} while processing the request (request id {request_id}).",
                               originalStatusCode=500, resourceName=model_id)
