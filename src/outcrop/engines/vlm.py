"""Vision-language chat (transformers `AutoModelForImageTextToText` + `AutoProcessor`, the model's own
chat template) behind a bounded queue with one generation worker thread.

Concurrent chats share forward passes by dynamic batching: when the worker is free it takes the
waiting jobs of one sampling kind (all greedy, or identical unseeded sampling; `sampling_key`), up
to `max_batch`, each prompt processed alone before it was queued (so its usage is its own tokens,
never padding, and a prompt past the context window is refused before it waits in line), pads
them on the left into one batch and runs one `model.generate`. Each row keeps its own streamer
(stop sequences, hold-back, EOS), token budget and JSON constraint; a row that is done stops
producing and is answered at once (`BatchScheduler.deliver`), without waiting for the batch. A
client that goes away sets its job's `cancelled` event, checked after every token. Greedy answers
are the same batched or alone in float32 (tested); in bfloat16 a batch's matrix products round
differently from one row's, so a near-tie between two tokens can go the other way (seen on random
weights, whose logits are nearly flat). Out of memory in a batch: its jobs run again one by one.

Why not transformers' continuous batching (`generate_batch`, `init_continuous_batching`,
`ContinuousBatchingManager`, transformers 5.24): requests are token-id lists only
(`add_request(input_ids, max_new_tokens, ...)`) and the model is called with `input_ids` and 1-D
`position_ids` over a paged cache, so Qwen2.5-VL's `pixel_values`, `image_grid_thw` and 3-D mrope
positions have no way in; it streams per request and cancels (`cancel_request`), but per-request
logits processing is limited to temperature/top-k/top-p, so the JSON constraint cannot ride along.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import Field

from outcrop.engines.base import Engine, pick_device, pick_dtype
from outcrop.engines.failures import is_out_of_memory, release_device_memory
from outcrop.engines.ocr import OcrGrounding
from outcrop.engines.quantization import Scheme
from outcrop.engines.scheduler import BatchScheduler, Job
from outcrop.engines.text_stream import StopAwareStreamer
from outcrop.errors import ValidationException  # tool-use refusals; to move to the protocols as the limits did
from outcrop.registry import ModelEntry
from outcrop.engines.budgets import BudgetOptions
from outcrop.engines.tool_calls import ToolFormat, result_text
from outcrop.tasks.chat import (
    CONTEXT_TOKENS, ChatLimits, ChatModel, ChatResult, ChatTask, ImagePart, Prepared, TextPart, ToolCall, ToolResult,
)
from outcrop.tasks.limits import LimitExceeded

logger = logging.getLogger(__name__)

_DONE = object()


@dataclass
class _Work:
    task: ChatTask
    emit: Callable[[Any], None]
    streaming: bool
    inputs: Any  # the processed prompt (token ids, image patches), made before the job was queued
    input_tokens: int
    max_new: int


@dataclass
class _Row:
    """One job of a batch on the worker thread: its processed prompt, budget, streamer and answer."""

    job: Job[_Work]
    inputs: Any
    input_tokens: int  # this prompt's own tokens, never the batch's padding
    max_new: int
    streamer: StopAwareStreamer | None = None
    reader: Any = None  # where the row's text goes: straight out, or through the tool-call parser
    result: ChatResult | None = None


def sampling_key(task: ChatTask, default_temperature: float) -> Hashable:
    """Jobs with equal keys may share a `generate`: all greedy, or the same unseeded sampling.
    A seeded job runs alone, since its seed sets the one generator a batch shares."""
    temperature = default_temperature if task.temperature is None else task.temperature
    if temperature <= 0:
        return ("greedy",)
    if task.seed is not None:
        return ("seeded", id(task))
    return ("sample", temperature, task.top_p, task.top_k)


def hf_messages(task: ChatTask) -> list[dict[str, Any]]:
    """The task as the `messages` list that transformers chat templates take: the assistant's calls as
    `tool_calls`, results as `tool` messages ahead of the rest of their user turn."""
    messages: list[dict[str, Any]] = []
    if task.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": task.system}]})
    for turn in task.turns:
        content: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for p in turn.parts:
            if isinstance(p, TextPart):
                content.append({"type": "text", "text": p.text})
            elif isinstance(p, ImagePart):
                content.append({"type": "image"})
            elif isinstance(p, ToolCall):
                calls.append({"type": "function", "id": p.id, "function": {"name": p.name, "arguments": p.arguments}})
            else:
                messages.append({"role": "tool", "tool_call_id": p.id, "content": result_text(p),
                                 **({"status": p.status} if p.status else {})})
        if content or calls or not any(isinstance(p, ToolResult) for p in turn.parts):
            messages.append({"role": turn.role, "content": content, **({"tool_calls": calls} if calls else {})})
    return messages


def render_prompt(processor: Any, tool_format: ToolFormat, task: ChatTask) -> str:
    """The prompt text through the model's own chat template, tools included the way it takes them."""
    rendered, tools = tool_format.prompt_task(task)
    prefill = task.turns[-1].role == "assistant"
    return str(processor.apply_chat_template(
        hf_messages(rendered), tools=tools, tokenize=False, add_generation_prompt=not prefill,
        continue_final_message=prefill,
    ))


class ChatStream:
    """Text deltas as generated; `result` is set once the iteration ends. Closing it cancels the job."""

    def __init__(self, queue: asyncio.Queue[Any], job: asyncio.Task[ChatResult], prepared: Prepared) -> None:
        self._queue, self._job, self.prepared = queue, job, prepared
        self.result: ChatResult | None = None

    @property
    def input_tokens(self) -> int:
        return self.prepared.input_tokens

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    self.result = self._job.result()
                    return
                yield item
        finally:
            if not self._job.done():
                self._job.cancel()  # the scheduler sets job.cancelled; the worker stops at the next token


class VisionChatOptions(BudgetOptions):
    default_temperature: float = Field(0.0, ge=0, description="Temperature when a request sets none (0: greedy).")
    stream_timeout_s: float = Field(600, gt=0, description="A streamed answer's budget.")
    max_queue: int = Field(32, ge=1, description="Queued requests beyond this get ThrottlingException.")
    max_batch: int = Field(4, ge=1, description="Concurrent chats decoded together in one generate (1: one at a time).")
    batch_wait_s: float = Field(0.05, ge=0, description="How long a free worker waits for concurrent chats to join.")
    cpu_threads: int | None = Field(None, ge=1, description="torch intra-op threads on a CPU (process-wide).")
    max_pixels: int | None = Field(None, ge=1, description="The image processor's pixel budget per image.")
    min_pixels: int = Field(3136, ge=1)
    context_tokens: int | None = Field(None, ge=1, description="Context window; default: the model config's.")
    max_output_tokens: int = Field(4096, ge=1, description="The largest maxTokens a request may ask for.")
    ocr_grounding: bool = Field(False, description="Tesseract's reading as context for text-reading requests.")
    ocr_languages: str = "jpn+eng"
    ocr_timeout_s: float = Field(60, gt=0)
    attention: str = Field("auto", description="transformers' attn_implementation for the vision tower and the decoder; "
                           "auto: SDPA, with one-token decode steps on a CPU done by engines/decode_attention.py.")
    quantize: Scheme = Field("none", description="Decode the language model with int8/int4 weights (CPU, bf16 only).")
    quantize_decode_rows: int = Field(16, ge=1, description="Matmuls with at most this many rows use the quantized weights.")


class VisionChatEngine(Engine):
    Options = VisionChatOptions
    interfaces = (ChatModel,)
    options: VisionChatOptions

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        super().__init__(entry, weights_dir)
        self.default_temperature = self.options.default_temperature
        self.stream_timeout_s = self.options.stream_timeout_s
        self.ocr: OcrGrounding | None = None
        self.scheduler: BatchScheduler[_Work, ChatResult] = BatchScheduler(
            f"vlm:{entry.model_id}",
            self._run_batch,
            max_batch=self.options.max_batch,
            max_wait_s=self.options.batch_wait_s,
            max_queue=self.options.max_queue,
            timeout_s=self.options.request_budget_s,
            batch_key=lambda work: sampling_key(work.task, self.default_temperature),
        )

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = pick_device(self.entry.device)
        self.dtype = pick_dtype(self.entry.dtype, self.device)
        if self.device == "cpu":
            from outcrop.engines.cpu_threads import apply_cpu_threads

            apply_cpu_threads(self.options.cpu_threads)
        attention = self.options.attention
        if attention == "auto":
            from outcrop.engines import decode_attention

            attention = decode_attention.register() if self.device == "cpu" else "sdpa"
        self.model = AutoModelForImageTextToText.from_pretrained(
            self.weights_dir, dtype=self.dtype, attn_implementation=attention).to(self.device).eval()
        kwargs = {}
        if self.options.max_pixels:
            kwargs = {"max_pixels": self.options.max_pixels, "min_pixels": self.options.min_pixels}
        if self.device == "cpu" and self.options.quantize != "none":
            from outcrop.engines.quantization import quantize_language_model

            quantize_language_model(self.model, self.options.quantize, decode_rows=self.options.quantize_decode_rows)
        self.processor = AutoProcessor.from_pretrained(self.weights_dir, **kwargs)
        self.tokenizer = self.processor.tokenizer
        self.tool_format = ToolFormat.of(self.processor, self.model)
        text_config = getattr(self.model.config, "text_config", self.model.config)
        self.context_tokens = self.options.context_tokens or int(getattr(text_config, "max_position_embeddings", 4096))
        self.max_output_tokens = self.options.max_output_tokens
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.eos_ids.add(self.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.tokenizer.eos_token_id)
        torch.set_grad_enabled(False)
        if self.options.ocr_grounding:
            self.ocr = OcrGrounding(self.options.ocr_languages, timeout_s=self.options.ocr_timeout_s)
            if self.ocr.available:
                logger.info("OCR grounding on (tesseract %s, %s)", self.ocr.binary, self.ocr.languages)
        logger.info("vision chat model %s ready on %s (%s)", self.entry.weights, self.device, self.dtype)

    async def start(self) -> None:
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()

    # -- serving (event loop) --------------------------------------------------------------------
    async def open_stream(self, task: ChatTask, *, streaming: bool = True) -> ChatStream:
        """Queue the task and wait until its prompt is tokenized (errors in it raise here)."""
        task, inputs = await self._processed(task)  # refusals (context, tools) before queueing
        input_tokens = int(inputs["input_ids"].shape[1])
        max_new = self.output_budget(task, input_tokens)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def emit(item: Any) -> None:
            if streaming or not isinstance(item, str):  # an unstreamed answer's text arrives with its result
                loop.call_soon_threadsafe(queue.put_nowait, item)

        timeout = self.stream_timeout_s if streaming else None
        work = _Work(task, emit, streaming, inputs, input_tokens, max_new)
        job = asyncio.create_task(self.scheduler.submit(work, timeout_s=timeout))
        job.add_done_callback(lambda _t: queue.put_nowait(_DONE))
        first = await queue.get()
        if first is _DONE:
            job.result()  # raises the error the worker met
            raise RuntimeError("generation ended before its prompt was prepared")
        return ChatStream(queue, job, first)

    async def generate(self, task: ChatTask) -> ChatResult:
        stream = await self.open_stream(task, streaming=False)
        async for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    async def count_input_tokens(self, task: ChatTask) -> int:
        """The prompt tokens `generate` would report as usage (images and OCR grounding included), without
        queueing behind generation: a tokenizer and image-processor pass on a worker thread."""
        _task, inputs = await self._processed(task)
        return int(inputs["input_ids"].shape[1])

    async def _processed(self, task: ChatTask) -> tuple[ChatTask, Any]:
        """`task` with its OCR grounding, and its processed prompt: Tesseract, the tokenizer and the image
        processor run on worker threads beside the model, not in its queue."""
        if task.ocr and self.ocr is not None and self.ocr.available:
            task = await asyncio.to_thread(self.ocr.ground, task)
        return task, await asyncio.to_thread(self.prepare_inputs, task)

    @property
    def limits(self) -> ChatLimits:
        return ChatLimits(context_tokens=self.context_tokens, max_output_tokens=self.max_output_tokens)

    def output_budget(self, task: ChatTask, input_tokens: int) -> int:
        """The tokens `task` may generate after its prompt: its `max_tokens`, or without one the model's output
        limit, cut to what the context window leaves. A prompt and asked output past the window raise
        `LimitExceeded` (CONTEXT_TOKENS), which the protocol words; `max_tokens` over `limits` it checks itself."""
        max_new = task.max_tokens or self.max_output_tokens
        if input_tokens + max_new <= self.context_tokens:
            return max_new
        if task.max_tokens is None and input_tokens < self.context_tokens:
            return self.context_tokens - input_tokens
        raise LimitExceeded(CONTEXT_TOKENS, self.context_tokens, input_tokens + max_new,
                            input_tokens=input_tokens, output_tokens=max_new)

    def prepare_inputs(self, task: ChatTask) -> Any:
        if task.tools and not self.tool_format.supported:
            raise ValidationException("This model doesn't support tool use.")
        from jinja2 import TemplateError

        try:
            prompt = render_prompt(self.processor, self.tool_format, task)
        except TemplateError as error:  # the template's own raise_exception: a conversation it cannot take
            raise ValidationException(f"The model's chat template cannot render this conversation: {error}") from None
        images = [im.convert("RGB") for im in task.images] or None
        return self.processor(text=[prompt], images=images, return_tensors="pt")

    # -- the worker thread -----------------------------------------------------------------------
    def output_reader(self, task: ChatTask, inputs: Any, emit: Callable[[Any], None]) -> Any:
        """Where generated text goes: straight to `emit`, or through the tool-call parser, which holds
        back call text and needs the prompt to know where the answer starts."""
        prefix = self.tokenizer.decode(inputs["input_ids"][0]) if task.tools else ""
        return self.tool_format.reader(task, prefix, emit)

    def _run_batch(self, jobs: Sequence[Job[_Work]]) -> list[ChatResult | BaseException]:
        """Prepare each job alone (its own errors fail only it), decode the rest in one `generate`.
        Out of memory in a batch: each unfinished job runs again alone, so only the one that does not
        fit fails (a stream that already sent text cannot be rewound and fails with the error)."""
        results: list[ChatResult | BaseException | None] = [None] * len(jobs)
        rows: list[tuple[int, _Row]] = []
        for at, job in enumerate(jobs):
            try:
                rows.append((at, self._prepare(job)))
            except Exception as exc:
                results[at] = exc
        if rows:
            try:
                for (at, _row), result in zip(rows, self._generate([row for _, row in rows])):
                    results[at] = result
            except Exception as exc:
                retry = is_out_of_memory(exc) and len(rows) > 1
                if retry:
                    release_device_memory()
                    logger.warning("out of memory in a batch of %d: running its jobs one at a time", len(rows))
                for at, row in rows:
                    if row.result is not None:
                        results[at] = row.result  # delivered before the failure
                    elif not retry or row.job.cancelled.is_set() or (
                        row.job.item.streaming and row.streamer is not None and row.streamer.sent
                    ):
                        results[at] = exc
                    else:
                        try:
                            results[at] = self._generate([row])[0]
                        except Exception as alone:
                            if is_out_of_memory(alone):
                                release_device_memory()
                            results[at] = alone
        return [r if r is not None else RuntimeError("no result") for r in results]

    def _prepare(self, job: Job[_Work]) -> _Row:
        work = job.item
        work.emit(Prepared(input_tokens=work.input_tokens))
        return _Row(job=job, inputs=work.inputs, input_tokens=work.input_tokens, max_new=work.max_new)

    def _collate(self, parts: Sequence[Any]) -> Any:
        """One batch from prompts processed one at a time: per-token tensors (ids, attention mask, token
        types) padded on the left to the longest prompt, everything else (pixel patches, image grids)
        joined in row order, which is how the processor itself batches Qwen2-VL-style inputs."""
        if len(parts) == 1:
            return parts[0]
        import torch
        from transformers import BatchFeature

        length = max(int(p["input_ids"].shape[1]) for p in parts)
        keys = list(dict.fromkeys(key for p in parts for key in p.keys()))
        batch: dict[str, Any] = {}
        for key in keys:
            present = [p for p in parts if key in p]
            if all(p[key].ndim == 2 and p[key].shape == p["input_ids"].shape for p in present):
                fill = self.pad_id if key == "input_ids" else 0
                batch[key] = torch.cat([
                    torch.nn.functional.pad(p[key], (length - p[key].shape[1], 0), value=fill) for p in present
                ])
            else:
                batch[key] = torch.cat([p[key] for p in present])
        return BatchFeature(batch)

    def _generate(self, rows: Sequence[_Row]) -> list[ChatResult]:
        """One `generate` over the rows (compatible sampling, see `batch_key`); each row streams, stops
        and is answered on its own."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from outcrop.engines.json_constraint import JsonLogitsProcessor
        from outcrop.engines.text_stream import RowStops, RowStreamer, StopAwareStreamer

        started = time.monotonic()
        inputs = self._collate([row.inputs for row in rows]).to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        prompt_length = int(inputs["input_ids"].shape[1])
        streamers = []
        for row in rows:
            task = row.job.item.task
            row.reader = self.output_reader(task, row.inputs, row.job.item.emit)
            row.streamer = StopAwareStreamer(self.tokenizer, task.stop_sequences, row.reader.feed, self.eos_ids)
            streamers.append(row.streamer)

        def finished(i: int) -> None:
            rows[i].result = self._result(rows[i], streamers[i], started)
            self.scheduler.deliver(rows[i].job, rows[i].result)

        dispatch = RowStreamer(streamers, [row.max_new for row in rows], [row.job.cancelled for row in rows], finished)
        stops = RowStops(dispatch, prompt_length)
        processors = LogitsProcessorList()
        for i, row in enumerate(rows):
            if row.job.item.task.json_output:
                processors.append(JsonLogitsProcessor(self.tokenizer, prompt_length, row.max_new, self.eos_ids,
                                                      row=i, skip=partial(stops.done.__getitem__, i)))
        task = rows[0].job.item.task
        temperature = self.default_temperature if task.temperature is None else task.temperature
        sample = temperature > 0
        kwargs: dict[str, Any] = {"do_sample": sample}
        if sample:
            kwargs.update(temperature=temperature, top_p=1.0 if task.top_p is None else task.top_p, top_k=task.top_k or 0)
            if task.seed is not None:
                torch.manual_seed(task.seed)  # seeded jobs run alone (batch_key), so the seed is theirs
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            self.model.generate(
                **inputs,
                max_new_tokens=max(row.max_new for row in rows),
                min_new_tokens=0,
                streamer=dispatch,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([stops]),
                eos_token_id=sorted(self.eos_ids),
                pad_token_id=self.pad_id,
                **kwargs,
            )
        dispatch.end()  # idempotent: every row has its answer now
        answers = [row.result for row in rows]
        assert all(answers), "a batch row ended without an answer"
        return answers  # type: ignore[return-value]

    def _result(self, row: _Row, streamer: Any, started: float) -> ChatResult:
        if streamer.stop_sequence is not None:
            reason = "stop_sequence"
        elif streamer.hit_eos:
            reason = "end_turn"
        else:
            reason = "max_tokens" if streamer.generated >= row.max_new else "end_turn"
        text, calls = row.reader.finish(streamer.text)
        return ChatResult(
            text=text,
            tool_calls=calls,
            stop_reason="tool_use" if calls else reason,  # type: ignore[arg-type]
            stop_sequence=streamer.stop_sequence,
            input_tokens=row.input_tokens,
            output_tokens=streamer.generated,
            first_token_s=streamer.first_token_s,
            latency_s=time.monotonic() - started,
        )
