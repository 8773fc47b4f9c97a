"""Sentence-embedding models (BERT/XLM-R/Qwen3-Embedding families) via sentence-transformers.

The model folder says how to pool and which prompts the model was trained with (sentence-
transformers' `modules.json`, `config_sentence_transformers.json`), so one engine serves CLS-,
mean- and last-token-pooled models alike. Shorter outputs: with `matryoshka = true` (models trained
with Matryoshka representation learning, e.g. Qwen3-Embedding) the leading dimensions, as the
model was trained to be cut; otherwise a fixed, seeded orthogonal projection. Either way the same
for every request.
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
from outcrop.tasks.text_embedding import Side, TextEmbedder, TextEmbedTask

logger = logging.getLogger(__name__)

PROJECTION_SEED = 20240229


class TextEmbeddingOptions(BudgetOptions):
    matryoshka: bool = Field(False, description="Trained with Matryoshka loss: shorter vectors are its leading dimensions.")
    max_batch: int = Field(32, ge=1, description="Texts embedded in one forward pass.")
    max_wait_ms: float = Field(4, ge=0, description="How long a batch waits for more requests.")
    max_queue: int = Field(1024, ge=1, description="Queued requests beyond this get ThrottlingException.")


class TextEmbeddingEngine(Engine):
    Options = TextEmbeddingOptions
    interfaces = (TextEmbedder,)
    options: TextEmbeddingOptions

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        super().__init__(entry, weights_dir)
        self.matryoshka = self.options.matryoshka
        self.scheduler: BatchScheduler[TextEmbedTask, list[float]] = BatchScheduler(
            f"text-embed:{entry.model_id}",
            self._run_batch,
            max_batch=self.options.max_batch,
            max_wait_s=self.options.max_wait_ms / 1000.0,
            max_queue=self.options.max_queue,
            timeout_s=self.options.request_budget_s,
            batch_key=lambda task: task.prompt_name,
        )
        self._projections: dict[int, Any] = {}
        # Fast tokenizers keep truncation/padding state on one shared Rust object: one lock for every call.
        self._tokenizer_lock = threading.Lock()
        self.native_dim = 0
        self.max_tokens = 0
        self.prompt_names: frozenset[str] = frozenset()

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.device = pick_device(self.entry.device)
        self.dtype = pick_dtype(self.entry.dtype, self.device)
        self.model = SentenceTransformer(
            str(self.weights_dir), device=self.device, local_files_only=True, model_kwargs={"dtype": self.dtype}
        ).eval()
        self.tokenizer = self.model.tokenizer
        self.native_dim = self.model.get_embedding_dimension() or 0
        self.max_tokens = int(self.model.max_seq_length or self.tokenizer.model_max_length)
        self.prompt_names = frozenset(name for name, text in self.model.prompts.items() if text)
        self._specials = len(self.tokenizer("", add_special_tokens=True)["input_ids"])
        logger.info("text embedding model %s ready on %s (%s, %d-d, %d tokens)", self.entry.weights, self.device,
                    self.dtype, self.native_dim, self.max_tokens)

    async def start(self) -> None:
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()

    # -- sizing (event loop, cheap) ----------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._tokenizer_lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def overhead(self, prompt_name: str | None) -> int:
        prompt = self.model.prompts.get(prompt_name, "") if prompt_name else ""
        return self._specials + (self.count_tokens(prompt) if prompt else 0)

    def clip(self, text: str, max_text_tokens: int, side: Side) -> str:
        with self._tokenizer_lock:
            offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) <= max_text_tokens:
            return text
        if max_text_tokens <= 0:
            return ""
        if side == "end":
            return text[: offsets[max_text_tokens - 1][1]]
        return text[offsets[len(offsets) - max_text_tokens][0] :]

    async def embed(self, task: TextEmbedTask) -> list[float]:
        return await self.scheduler.submit(task)

    # -- the worker thread -------------------------------------------------------------------------
    def _projection(self, dim: int) -> Any:
        import torch

        if dim not in self._projections:
            generator = torch.Generator().manual_seed(PROJECTION_SEED + dim)
            gaussian = torch.randn(self.native_dim, dim, generator=generator, dtype=torch.float64)
            q, _ = torch.linalg.qr(gaussian)
            self._projections[dim] = q.to(torch.float32).to(self.device)
        return self._projections[dim]

    def _run_batch(self, jobs: Sequence[Job[TextEmbedTask]]) -> list[list[float]]:
        import torch
        import torch.nn.functional as F

        from sentence_transformers.util import batch_to_device

        tasks = [job.item for job in jobs]
        name = tasks[0].prompt_name  # the scheduler batches by prompt
        prompt = self.model.prompts.get(name) if name else None
        # Only tokenizing holds the tokenizer lock: requests being sized on the event loop never wait
        # for a forward pass.
        with self._tokenizer_lock:
            features = self.model.preprocess([t.text for t in tasks], prompt=prompt or None)
        with torch.inference_mode():
            vectors = self.model(batch_to_device(features, self.model.device))["sentence_embedding"].float()
        results = []
        for task, vector in zip(tasks, vectors):
            dim = task.dimensions or self.native_dim
            if dim != self.native_dim:
                vector = vector[:dim] if self.matryoshka else vector @ self._projection(dim)
            if task.normalize:
                vector = F.normalize(vector, dim=-1)
            results.append(vector.cpu().tolist())
        return results
