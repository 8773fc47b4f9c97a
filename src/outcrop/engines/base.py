"""The narrow interface every engine implements, and the device/dtype choice they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from outcrop.registry import ModelEntry
from outcrop.registry.options import Options, parse_options


class Engine(ABC):
    """Loads weights once (`load`, blocking, called off the event loop) and serves tasks.

    `start`/`stop` run on the event loop: schedulers and worker threads live between them.
    """

    # The options this engine reads from the model table (registry/options.py).
    Options: ClassVar[type[Options]] = Options
    # The typed task interfaces it offers (outcrop.tasks.*: Embedder, ChatModel, ...); a protocol's
    # `engine_interface` must be one of them.
    interfaces: ClassVar[tuple[type[Any], ...]] = ()

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        self.entry = entry
        self.weights_dir = weights_dir
        self.options: Any = self.parse_options(entry)

    @classmethod
    def parse_options(cls, entry: ModelEntry) -> Options:
        return parse_options(cls.Options, dict(entry.options), f"{entry.source}: model {entry.model_id!r} (engine {entry.engine!r})")

    @abstractmethod
    def load(self) -> None: ...

    @classmethod
    def companion_repos(cls, entry: ModelEntry) -> list[str]:
        """Hub repos this engine loads for `entry` beside its main weights, so `outcrop pull` fetches
        them too. Engines with companion models override this."""
        return []

    async def start(self) -> None:
        """Called once on the event loop after `load`."""

    async def stop(self) -> None:
        """Called on shutdown; drains or fails queued work."""


def pick_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(requested: str, device: str) -> Any:
    """`auto`: bf16/fp16 on accelerators; on a CPU bf16 where it multiplies bf16 in hardware (twice the
    fp32 speed there), fp32 elsewhere (emulated bf16 is slower than fp32). `float32` forces fp32."""
    import torch

    from outcrop.engines.cpu_features import native_bf16

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.bfloat16 if native_bf16() else torch.float32
