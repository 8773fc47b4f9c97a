"""One diffusion engine over diffusers' SDXL pipelines: txt2img, img2img, inpaint, ControlNet.

The img2img/inpaint/ControlNet pipelines are made with `from_pipe`, so they share the loaded
text encoders, VAE and UNet (no second copy in memory). A request's images run as one batch,
each with its own seeded `torch.Generator` (same seed ⇒ same PNG bytes). A `BatchScheduler` with
one worker bounds the queue (full → ThrottlingException) and the time budget (over →
ModelTimeoutException); a request whose client has gone is dropped before it runs, or stopped at
the next denoising step (the step callback raises), so abandoned work never runs to the end.

Options (TOML `options`): max_render_side (render at most this size, then resize to the requested
one), size_multiple, min_steps/max_steps (map a task's steps, counted on its `step_scale`, linearly onto a
distilled model's few), fixed_guidance_scale (turbo models run without CFG), inpaint_unet, controlnet_canny,
controlnet_segmentation, safety_checker, safety_threshold, clipseg, mask_threshold, matting,
foreground_prompt, png_compress_level (zlib level of the PNGs returned), max_queue, timeout_s
(`DiffusionOptions` declares them). Companion values are a
subfolder of the weights, a local folder, or a Hugging Face repo id (`repo::subfolder`).
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import Field

from outcrop.engines import diffusion_parts as parts
from outcrop.engines.base import Engine, pick_device, pick_dtype
from outcrop.engines.failures import is_out_of_memory, release_device_memory
from outcrop.engines.scheduler import BatchScheduler, Job
from outcrop.engines.weights import fetch_repo
from outcrop.errors import BedrockError, ModelErrorException
from outcrop.registry import ModelEntry
from outcrop.engines.budgets import BudgetOptions
from outcrop.tasks.image_generation import (
    ControlMode, GeneratedImage, ImageCapabilities, ImageGenerator, ImageResult, ImageTask, Mode,
)

logger = logging.getLogger(__name__)

StepListener = Callable[[int, int], None]


class _Cancelled(Exception):
    """The client went away mid-generation; the result would be thrown away, so stop now."""


class DiffusionOptions(BudgetOptions):
    max_queue: int = Field(8, ge=1, description="Queued requests beyond this get ThrottlingException.")
    # zlib level of the PNGs sent back: 6 (PIL's default) is ~6x slower than 1 on a 1024² image
    # (0.37 s vs 0.06 s on CPU) for ~15% smaller files.
    png_compress_level: int = Field(6, ge=0, le=9)
    variant: str | None = Field(None, description="The weights variant to load (e.g. fp16).")
    # Companion models: a folder inside the main weights, a local path, or a hub repo (`repo::subfolder`).
    inpaint_unet: str | None = None
    controlnet_canny: str | None = None
    controlnet_segmentation: str | None = None
    safety_checker: str | None = None
    clipseg: str | None = None
    matting: str | None = None
    tiny_vae: str | None = Field(None, description="A tiny autoencoder (TAESD-XL class) in place of the full VAE: "
                                 "decodes in a fraction of the time at some cost in fine detail.")
    safety_threshold: float | None = Field(None, description="Replaces the safety checker's trained thresholds.")
    mask_threshold: float = Field(0.4, ge=0, le=1, description="CLIPSeg probability that joins the mask.")
    foreground_prompt: str = "the main subject in the foreground"
    size_multiple: int | None = Field(None, ge=1, description="Render sizes round to this; default: the latent grid.")
    max_render_side: int | None = Field(None, ge=8, description="Render at most this many px a side, then resize.")
    min_steps: int | None = Field(None, ge=1, description="With max_steps: a task's steps map linearly onto these.")
    max_steps: int | None = Field(None, ge=1)
    fixed_guidance_scale: float | None = Field(None, description="A guidance scale every request uses (distilled models).")


class DiffusionEngine(Engine):
    Options = DiffusionOptions
    interfaces = (ImageGenerator,)
    options: DiffusionOptions

    def __init__(self, entry: ModelEntry, weights_dir: Path) -> None:
        super().__init__(entry, weights_dir)
        self.scheduler: BatchScheduler[ImageTask, ImageResult] = BatchScheduler(
            f"diffusion:{entry.model_id}",
            self._run_batch,
            max_batch=1,  # a request's images are already one batch; requests run one at a time
            max_queue=self.options.max_queue,
            timeout_s=self.options.request_budget_s,
        )
        self.step_listener: StepListener | None = None  # the CLI's progress bar
        self.png_compress_level = self.options.png_compress_level
        self.controlnets: dict[str, Any] = {}
        self.safety = self.segmenter = self.background = None

    # -- loading ---------------------------------------------------------------------------------
    COMPANION_OPTIONS = ("inpaint_unet", "controlnet_canny", "controlnet_segmentation", "safety_checker", "clipseg", "matting",
                         "tiny_vae")

    @classmethod
    def companion_repos(cls, entry: ModelEntry) -> list[str]:
        repos = []
        options = cls.parse_options(entry)
        for name in cls.COMPANION_OPTIONS:
            repo = str(getattr(options, name) or "").partition("::")[0]
            if repo and "/" in repo and not repo.startswith((".", "~", "/")) and repo not in repos:
                repos.append(repo)
        return repos

    def _companion(self, name: str) -> tuple[Path, str | None] | None:
        value = getattr(self.options, name)
        if not value:
            return None
        repo, _, subfolder = str(value).partition("::")
        for candidate in (self.weights_dir / repo, Path(repo).expanduser()):
            if candidate.is_dir():
                return candidate, subfolder or None
        return fetch_repo(repo, None, model_id=self.entry.model_id, profile=None), subfolder or None

    def load(self) -> None:
        import torch
        from diffusers import (
            ControlNetModel, StableDiffusionXLControlNetPipeline, StableDiffusionXLImg2ImgPipeline,
            StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline, UNet2DConditionModel,
        )

        from outcrop.engines.image_models import BackgroundRemover, SafetyClassifier, TextSegmenter

        self.device = pick_device(self.entry.device)
        self.dtype = pick_dtype(self.entry.dtype, self.device)
        variant = self.options.variant
        replaced: dict[str, Any] = {}
        if (found := self._companion("tiny_vae")) is not None:  # from_pipe checks the VAE's type: pass it to each
            from diffusers import AutoencoderTiny

            replaced["vae"] = AutoencoderTiny.from_pretrained(found[0], subfolder=found[1], dtype=self.dtype)
        base = StableDiffusionXLPipeline.from_pretrained(self.weights_dir, dtype=self.dtype, variant=variant, **replaced)
        if self.device != "cpu":
            base.to(self.device)
        base.set_progress_bar_config(disable=True)
        self.base = base
        self.base_scheduler_config = dict(base.scheduler.config)
        # from_pipe casts the components it shares to its own dtype, float32 unless told: pass the engine's.
        self.img2img = StableDiffusionXLImg2ImgPipeline.from_pipe(base, dtype=self.dtype, **replaced)
        inpaint_unet = None
        if (found := self._companion("inpaint_unet")) is not None:
            inpaint_unet = UNet2DConditionModel.from_pretrained(found[0], subfolder=found[1], dtype=self.dtype)
            if self.device != "cpu":
                inpaint_unet.to(self.device)
        self.inpaint = StableDiffusionXLInpaintPipeline.from_pipe(
            base, dtype=self.dtype, **replaced, **({"unet": inpaint_unet} if inpaint_unet else {}))
        for mode in ("canny", "segmentation"):
            if (found := self._companion(f"controlnet_{mode}")) is not None:
                net = ControlNetModel.from_pretrained(found[0], subfolder=found[1], dtype=self.dtype)
                if self.device != "cpu":
                    net.to(self.device)
                self.controlnets[mode] = StableDiffusionXLControlNetPipeline.from_pipe(
                    base, controlnet=net, dtype=self.dtype, **replaced)
        for pipe in (self.img2img, self.inpaint, *self.controlnets.values()):
            pipe.set_progress_bar_config(disable=True)
        self.multiple = self.options.size_multiple or base.vae_scale_factor * 8
        if (found := self._companion("safety_checker")) is not None:
            self.safety = SafetyClassifier(_sub(found), self.device, self.dtype, self.options.safety_threshold)
        if (found := self._companion("clipseg")) is not None:
            self.segmenter = TextSegmenter(_sub(found), self.device, self.dtype, self.options.mask_threshold)
            matting = self._companion("matting")
            self.background = BackgroundRemover(
                self.segmenter, _sub(matting) if matting else None, self.device, self.dtype,
                self.options.foreground_prompt,
            )
        torch.set_grad_enabled(False)
        logger.info("diffusion model %s ready on %s (%s); controls: %s, safety: %s, masks: %s", self.entry.weights,
                    self.device, self.dtype, sorted(self.controlnets), self.safety is not None, self.segmenter is not None)

    async def start(self) -> None:
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()

    # -- serving ---------------------------------------------------------------------------------
    @property
    def capabilities(self) -> ImageCapabilities:
        """What this deployment has models for: the edits, conditioning and mask prompts it can run."""
        modes: set[Mode] = {"txt2img", "img2img", "inpaint"}
        if self.background is not None:
            modes.add("remove_background")
        controls: tuple[ControlMode, ...] = ("canny", "segmentation")
        return ImageCapabilities(
            modes=frozenset(modes), control_modes=frozenset(mode for mode in controls if mode in self.controlnets),
            mask_prompts=self.segmenter is not None, samplers=frozenset(parts.SAMPLERS),
            step_range=step_range(self.options),
        )

    async def generate(self, task: ImageTask) -> ImageResult:
        return await self.scheduler.submit(task)

    # -- the worker thread -----------------------------------------------------------------------
    def _run_batch(self, jobs: Sequence[Job[ImageTask]]) -> list[Any]:
        results: list[Any] = []
        for job in jobs:
            try:
                results.append(self.run(job.item, job.cancelled))
            except _Cancelled:
                results.append(ModelErrorException("The request was cancelled."))
            except BedrockError as exc:
                results.append(exc)
            except Exception as exc:  # OOM included: answer this request, keep serving the next
                logger.exception("generation failed for %s", self.entry.model_id)
                if is_out_of_memory(exc):
                    release_device_memory()
                    results.append(ModelErrorException("The model ran out of memory for this request. Ask for fewer or smaller images."))
                else:
                    results.append(ModelErrorException(f"The model failed to generate the image: {type(exc).__name__}."))
        return results

    def _png(self, image: Image.Image) -> bytes:
        return _png(image, self.png_compress_level)

    def run(self, task: ImageTask, cancelled: threading.Event | None = None) -> ImageResult:
        """Run one task to completion on this thread (the scheduler's worker, or a benchmark)."""
        import torch

        cancelled = cancelled or threading.Event()
        if cancelled.is_set():
            raise _Cancelled()
        if task.mode == "remove_background":
            assert self.background is not None and task.init_image is not None
            cutout = self.background.remove(task.init_image)
            return ImageResult(images=[GeneratedImage(png=self._png(cutout), seed=task.seeds[0])])
        size = parts.render_size(task.width, task.height, self.options.max_render_side, self.multiple)
        count = len(task.seeds)
        steps = parts.model_steps(task.steps, task.step_scale, self.options.min_steps, self.options.max_steps)
        fixed = self.options.fixed_guidance_scale
        guidance = task.guidance_scale if fixed is None else fixed
        mask_png = None
        kwargs: dict[str, Any] = {}
        if task.mode == "txt2img" and task.control_image is None:
            pipe = self.base
        elif task.mode == "txt2img":
            pipe = self.controlnets[task.control_mode]
            kwargs["image"] = parts.control_image(task.control_image, task.control_mode, size)
            kwargs["controlnet_conditioning_scale"] = float(task.control_strength)
        else:
            assert task.init_image is not None
            init = task.init_image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            kwargs.update(image=init, strength=task.strength)
            steps = parts.steps_for_strength(steps, task.strength)
            if task.mode == "img2img":
                pipe = self.img2img
            else:
                pipe = self.inpaint
                mask = task.mask
                if task.mask_prompt is not None:
                    assert self.segmenter is not None
                    mask = self.segmenter.mask(task.init_image.convert("RGB"), task.mask_prompt)
                assert mask is not None
                mask_png = self._png(mask.convert("L").resize((task.width, task.height), Image.Resampling.NEAREST))
                kwargs["mask_image"] = mask.convert("L").resize(size, Image.Resampling.NEAREST)
        pipe.scheduler = parts.make_scheduler(task.sampler, self.base_scheduler_config)
        embeds = parts.encode_weighted(pipe, task.prompts, count, self.device)
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in task.seeds]

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancelled.is_set():
                raise _Cancelled()
            if self.step_listener is not None:
                self.step_listener(step + 1, pipe.num_timesteps)
            if task.progress is not None:
                task.progress(step + 1, pipe.num_timesteps)
            return tensors

        output = pipe(
            **embeds, **kwargs, width=size[0], height=size[1], num_inference_steps=steps, guidance_scale=guidance,
            generator=generators, callback_on_step_end=on_step,
        )
        return ImageResult(images=self.finish(task, output.images), mask_png=mask_png)

    def finish(self, task: ImageTask, rendered: Sequence[Image.Image]) -> list[GeneratedImage]:
        """Rendered images at the requested size, checked by the safety classifier, as PNGs."""
        images = [im.resize((task.width, task.height), Image.Resampling.LANCZOS) if im.size != (task.width, task.height)
                  else im for im in rendered]
        flags = self.safety.flags(images) if self.safety is not None else [False] * len(images)
        results = []
        for image, seed, flagged in zip(images, task.seeds, flags):
            if flagged and task.flagged_blackout:
                image = Image.new("RGB", image.size, (0, 0, 0))
            results.append(GeneratedImage(png=self._png(image), seed=seed, flagged=flagged))
        return results


def step_range(options: DiffusionOptions) -> tuple[int, int] | None:
    """The engine's own (min, max) steps where its options fix them (distilled models)."""
    low, high = options.min_steps, options.max_steps
    return (low, high) if low and high else None


def _sub(found: tuple[Path, str | None]) -> Path:
    return found[0] / found[1] if found[1] else found[0]


def _png(image: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()
