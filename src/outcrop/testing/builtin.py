"""`builtin:NAME` weights: tiny models built from config once into the cache, then loaded like real ones."""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

# name -> "module:function(folder)". Bump BUILD_VERSION when any builder's output changes.
BUILDERS: dict[str, str] = {
    "tiny-siglip": "outcrop.testing.tiny_embedding:build_tiny_siglip",
    "tiny-xlmr-text-embedding": "outcrop.testing.tiny_text_embedding:build_tiny_text_embedder",
    "tiny-qwen2.5-vl": "outcrop.testing.tiny_vlm:build_tiny_qwen25vl",
    "tiny-qwen3.5": "outcrop.testing.tiny_qwen35:build_tiny_qwen35",
    "tiny-sdxl-images": "outcrop.testing.tiny_diffusion:build_tiny_sdxl_images",
    "tiny-sd3": "outcrop.testing.tiny_sd3:build_tiny_sd3",
}
BUILD_VERSION = "1"


def builtin_names() -> list[str]:
    return sorted(BUILDERS)


def materialize(name: str, cache_dir: Path) -> Path:
    """The folder holding `name`'s weights, built on first use; safe across processes (file lock)."""
    if name not in BUILDERS:
        raise KeyError(f"unknown builtin model {name!r}; known: {', '.join(builtin_names())}")
    root = cache_dir / "builtin" / f"v{BUILD_VERSION}"
    target = root / name
    if (target / ".complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return target
        module_name, func_name = BUILDERS[name].split(":")
        builder = getattr(importlib.import_module(module_name), func_name)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            _seeded(builder, staging)
            (staging / ".complete").write_text(BUILD_VERSION)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("built tiny model %s in %s", name, target)
    return target


def _seeded(builder, folder: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        builder(folder)
    finally:
        torch.random.set_rng_state(state)
