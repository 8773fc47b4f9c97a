"""Vision-language chat (transformers `AutoModelForImageTextToText` + `AutoProcessor`, the model's own
chat template) behind a bounded queue with one generation worker thread.

Tokens leave the worker as they are generated: a streamer on the worker thread decodes them, holds
back text that may be the start of a stop sequence, and hands deltas to the event loop. A client
that goes away sets the job's `cancelled` event, which a stopping criterion checks after every
token, so its slot frees at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from outcrop.engines.base import Engine, pick_device, pick_dtype
from outcrop.engines.ocr import OcrGrounding
from outcrop.engines.quantization import Scheme
from outcrop.engines.scheduler import BatchScheduler, Job
from outcrop.errors import ValidationException
from outcrop.registry import ModelEntry
from outcrop.engines.budgets import BudgetOptions
from outcrop.engines.tool_calls import ToolFormat, result_text
from outcrop.tasks.chat import ChatResult, ChatTask, ImagePart, Prepared, TextPart, ToolCall, ToolResult

logger = logging.getLogger(__name__)

_DONE = object()


@dataclass
class _Work:
    task: ChatTask
    emit: Callable[[Any], None]


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
    cpu_threads: int | None = Field(None, ge=1, description="torch intra-op threads on a CPU (process-wide).")
    max_pixels: int | None = Field(None, ge=1, description="The image processor's pixel budget per image.")
    min_pixels: int = Field(3136, ge=1)
    context_tokens: int | None = Field(None, ge=1, description="Context window; default: the model config's.")
    max_output_tokens: int = Field(4096, ge=1, description="The largest maxTokens a request may ask for.")
    ocr_grounding: bool = Field(False, description="Tesseract's reading as context for text-reading requests.")
    ocr_languages: str = "jpn+eng"
    ocr_timeout_s: float = Field(60, gt=0)
    quantize: Scheme = Field("none", description="Decode the language model with int8/int4 weights (CPU, bf16 only).")
    quantize_decode_rows: int = Field(16, ge=1, description="Matmuls with at most this many rows use the quantized weights.")


class VisionChatEngine(Engine):
    Options = VisionChatOptions
    options: VisionChatOptions

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        super().__init__(entry, weights_dir)
        self.default_temperature = self.options.default_temperature
        self.stream_timeout_s = self.options.stream_timeout_s
        self.ocr: OcrGrounding | None = None
        self.scheduler: BatchScheduler[_Work, ChatResult] = BatchScheduler(
            f"vlm:{entry.model_id}",
            self._run_batch,
            max_batch=1,
            max_queue=self.options.max_queue,
            timeout_s=self.options.request_budget_s,
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
        self.model = AutoModelForImageTextToText.from_pretrained(self.weights_dir, dtype=self.dtype).to(self.device).eval()
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
        if task.ocr and self.ocr is not None and self.ocr.available:
            task = await asyncio.to_thread(self.ocr.ground, task)  # Tesseract runs beside the model, not in its queue
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        timeout = self.stream_timeout_s if streaming else None
        job = asyncio.create_task(self.scheduler.submit(_Work(task, emit), timeout_s=timeout))
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
        if task.ocr and self.ocr is not None and self.ocr.available:
            task = await asyncio.to_thread(self.ocr.ground, task)
        inputs = await asyncio.to_thread(self.prepare_inputs, task)
        return int(inputs["input_ids"].shape[1])

    # -- the worker thread -----------------------------------------------------------------------
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

    def output_reader(self, task: ChatTask, inputs: Any, emit: Callable[[Any], None]) -> Any:
        """Where generated text goes: straight to `emit`, or through the tool-call parser, which holds
        back call text and needs the prompt to know where the answer starts."""
        prefix = self.tokenizer.decode(inputs["input_ids"][0]) if task.tools else ""
        return self.tool_format.reader(task, prefix, emit)

    def _run_batch(self, jobs: Sequence[Job[_Work]]) -> list[ChatResult]:
        return [self._generate(job) for job in jobs]

    def _generate(self, job: Job[_Work]) -> ChatResult:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from outcrop.engines.json_constraint import JsonLogitsProcessor
        from outcrop.engines.text_stream import CancelCriteria, StopAwareStreamer

        started = time.monotonic()
        task, emit = job.item.task, job.item.emit
        inputs = self.prepare_inputs(task)
        input_tokens = int(inputs["input_ids"].shape[1])
        if task.max_tokens is not None and task.max_tokens > self.max_output_tokens:
            raise ValidationException(
                f"The maximum tokens you requested exceeds the model limit of {self.max_output_tokens}. "
                f"Try again with a maximum tokens value that is lower than {self.max_output_tokens}."
            )
        max_new = task.max_tokens or self.max_output_tokens
        if input_tokens + max_new > self.context_tokens:
            if task.max_tokens is None and input_tokens < self.context_tokens:
                max_new = self.context_tokens - input_tokens
            else:
                raise ValidationException(
                    f"Input is too long for this model: {input_tokens} prompt tokens (images included) plus "
                    f"maxTokens {max_new} exceed its context window of {self.context_tokens} tokens. "
                    "Shorten the conversation, send fewer or smaller images, or lower maxTokens."
                )
        emit(Prepared(input_tokens=input_tokens))
        inputs = inputs.to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        reader = self.output_reader(task, inputs, emit)
        streamer = StopAwareStreamer(self.tokenizer, task.stop_sequences, (), reader.feed, self.eos_ids)
        processors = LogitsProcessorList()
        if task.json_output:
            processors.append(JsonLogitsProcessor(self.tokenizer, input_tokens, max_new, self.eos_ids))
        temperature = self.default_temperature if task.temperature is None else task.temperature
        sample = temperature > 0
        kwargs: dict[str, Any] = {"do_sample": sample}
        if sample:
            kwargs.update(temperature=temperature, top_p=1.0 if task.top_p is None else task.top_p, top_k=task.top_k or 0)
            if task.seed is not None:
                torch.manual_seed(task.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            self.model.generate(
                **inputs,
                max_new_tokens=max_new,
                min_new_tokens=0,
                streamer=streamer,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([CancelCriteria(job.cancelled, streamer)]),
                eos_token_id=sorted(self.eos_ids),
                pad_token_id=self.tokenizer.pad_token_id,
                **kwargs,
            )
        if streamer.stop_sequence is not None:
            reason = "stop_sequence"
        elif streamer.hit_eos:
            reason = "end_turn"
        else:
            reason = "max_tokens" if streamer.generated >= max_new else "end_turn"
        text, calls = reader.finish(streamer.text)
        return ChatResult(
            text=text,
            tool_calls=calls,
            stop_reason="tool_use" if calls else reason,  # type: ignore[arg-type]
            stop_sequence=streamer.stop_sequence,
            input_tokens=input_tokens,
            output_tokens=streamer.generated,
            first_token_s=streamer.first_token_s,
            latency_s=time.monotonic() - started,
        )
