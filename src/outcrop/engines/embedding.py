"""Image–text embedder (SigLIP/CLIP families) behind a dynamic micro-batcher.

Text and image vectors share one space, so a text query ranks images. Shorter outputs (256/384)
come from a fixed, seeded orthogonal projection of the native vector followed by L2
normalisation: deterministic, the same for every request, and documented in the README.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from outcrop.engines.base import Engine, pick_device, pick_dtype
from outcrop.engines.scheduler import BatchScheduler, Job
from outcrop.registry import ModelEntry
from outcrop.engines.budgets import BudgetOptions
from outcrop.tasks.embedding import Embedder, EmbedderLimits, EmbedResult, EmbedTask

logger = logging.getLogger(__name__)

PROJECTION_SEED = 20240229


class EmbeddingOptions(BudgetOptions):
    max_text_tokens: int = Field(128, ge=1, description="The longest text embedded, in tokens (Titan G1 publishes 128).")
    max_batch: int = Field(32, ge=1, description="Requests embedded in one forward pass.")
    max_wait_ms: float = Field(4, ge=0, description="How long a batch waits for more requests.")
    max_queue: int = Field(256, ge=1, description="Queued requests beyond this get ThrottlingException.")


class EmbeddingEngine(Engine):
    Options = EmbeddingOptions
    interfaces = (Embedder,)
    options: EmbeddingOptions

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        super().__init__(entry, weights_dir)
        self.max_text_tokens = self.options.max_text_tokens
        self.scheduler: BatchScheduler[EmbedTask, EmbedResult] = BatchScheduler(
            f"embed:{entry.model_id}",
            self._run_batch,
            max_batch=self.options.max_batch,
            max_wait_s=self.options.max_wait_ms / 1000.0,
            max_queue=self.options.max_queue,
            timeout_s=self.options.request_budget_s,
        )
        self._projections: dict[int, Any] = {}
        # A fast tokenizer keeps its padding/truncation settings on the shared Rust object and resets them
        # on every call: counting tokens on the event loop while the worker pads a batch would leave that
        # batch unpadded (ragged tensors, a ModelErrorException). One lock around every tokenizer call.
        self._tokenizer_lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        self.device = pick_device(self.entry.device)
        self.dtype = pick_dtype(self.entry.dtype, self.device)
        self.model = AutoModel.from_pretrained(self.weights_dir, dtype=self.dtype).to(self.device).eval()
        self.processor = AutoProcessor.from_pretrained(self.weights_dir)
        self.tokenizer = self.processor.tokenizer
        # SigLIP was trained on texts padded to max_length; CLIP-style models take dynamic padding.
        self._pad_to_max = self.model.config.model_type.startswith("siglip")
        self._max_length = int(getattr(self.model.config.text_config, "max_position_embeddings", 77))
        with torch.inference_mode():
            self.native_dim = int(self._text_features(["warm-up"]).shape[-1])
        logger.info("embedding model %s ready on %s (%s, %d-d)", self.entry.weights, self.device, self.dtype, self.native_dim)

    async def start(self) -> None:
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()

    # -- serving ---------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._tokenizer_lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def limits(self) -> EmbedderLimits:
        return EmbedderLimits(max_text_tokens=self.max_text_tokens, dimensions=self.native_dim)

    async def embed(self, task: EmbedTask) -> EmbedResult:
        return await self.scheduler.submit(task)

    # -- the worker thread -----------------------------------------------------------------------
    def _text_features(self, texts: list[str]) -> Any:
        padding: Any = "max_length" if self._pad_to_max else True
        with self._tokenizer_lock:
            inputs = self.processor(
                text=texts, padding=padding, truncation=True, max_length=self._max_length, return_tensors="pt"
            )
        inputs = inputs.to(self.device)
        return _pooled(self.model.get_text_features(**inputs)).float()

    def _image_features(self, images: list[Any]) -> Any:
        inputs = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return _pooled(self.model.get_image_features(**inputs)).float()

    def _projection(self, dim: int) -> Any:
        import torch

        if dim not in self._projections:
            generator = torch.Generator().manual_seed(PROJECTION_SEED + dim)
            gaussian = torch.randn(self.native_dim, dim, generator=generator, dtype=torch.float64)
            q, _ = torch.linalg.qr(gaussian)
            self._projections[dim] = q.to(torch.float32).to(self.device)
        return self._projections[dim]

    def _run_batch(self, jobs: Sequence[Job[EmbedTask]]) -> list[EmbedResult]:
        import torch
        import torch.nn.functional as F

        tasks = [job.item for job in jobs]
        with torch.inference_mode():
            # One forward pass for all texts of the batch and one for all images; rows map back by index.
            text_rows = {i: row for row, i in enumerate(i for i, t in enumerate(tasks) if t.text is not None)}
            image_rows = {i: row for row, i in enumerate(i for i, t in enumerate(tasks) if t.image is not None)}
            texts = F.normalize(self._text_features([tasks[i].text for i in text_rows]), dim=-1) if text_rows else None
            images = F.normalize(self._image_features([tasks[i].image for i in image_rows]), dim=-1) if image_rows else None
            results: list[EmbedResult] = []
            for i, task in enumerate(tasks):
                parts = []
                if texts is not None and i in text_rows:
                    parts.append(texts[text_rows[i]])
                if images is not None and i in image_rows:
                    parts.append(images[image_rows[i]])
                vector = torch.stack(parts).mean(dim=0)  # text+image: the average, as Titan documents
                if task.dimensions != self.native_dim:
                    vector = vector @ self._projection(task.dimensions)
                if task.normalize:
                    vector = F.normalize(vector, dim=-1)
                results.append(EmbedResult(vector=vector.cpu().tolist()))
        return results


def _pooled(output: Any) -> Any:
    """transformers 5 returns a ModelOutput from get_*_features; older versions a tensor."""
    import torch

    return output if isinstance(output, torch.Tensor) else output.pooler_output
