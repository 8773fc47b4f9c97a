"""Stable Diffusion 3 / 3.5 (MMDiT, flow matching) over diffusers' SD3 pipelines: txt2img and img2img.

The same queue, cancellation, seeding, safety check and PNG encoding as the SDXL engine (it is a
subclass); only loading and the pipeline call differ. Components a folder lacks (T5, the IP-adapter
image encoder) are loaded as None, which diffusers' SD3 pipelines accept. Options: max_render_side,
size_multiple, min_steps/max_steps, fixed_guidance_scale, safety_checker, safety_threshold,
png_compress_level, max_queue, timeout_s (as for the SDXL engine).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from PIL import Image

from outcrop.engines import diffusion_parts as parts
from outcrop.engines.base import pick_device, pick_dtype
from outcrop.engines.diffusion import DiffusionEngine, _Cancelled, _sub, step_range
from outcrop.tasks.image_generation import ImageCapabilities, ImageResult, ImageTask

logger = logging.getLogger(__name__)


class SD3Engine(DiffusionEngine):
    COMPANION_OPTIONS: tuple[str, ...] = ("safety_checker",)

    def load(self) -> None:
        import torch
        from diffusers import StableDiffusion3Img2ImgPipeline, StableDiffusion3Pipeline

        from outcrop.engines.image_models import SafetyClassifier

        self.device = pick_device(self.entry.device)
        self.dtype = pick_dtype(self.entry.dtype, self.device)
        index = json.loads((self.weights_dir / "model_index.json").read_text())
        absent = {name: None for name, value in index.items()
                  if not name.startswith("_") and (not isinstance(value, list) or value[0] is None)}
        base = StableDiffusion3Pipeline.from_pretrained(self.weights_dir, dtype=self.dtype,
                                                        variant=self.options.variant, **absent)
        if self.device != "cpu":
            base.to(self.device)
        self.base = base
        self.img2img = StableDiffusion3Img2ImgPipeline.from_pipe(base, dtype=self.dtype)  # else it casts base to fp32
        for pipe in (self.base, self.img2img):
            pipe.set_progress_bar_config(disable=True)
        self.multiple = self.options.size_multiple or base.vae_scale_factor * base.patch_size
        if (found := self._companion("safety_checker")) is not None:
            self.safety = SafetyClassifier(_sub(found), self.device, self.dtype, self.options.safety_threshold)
        torch.set_grad_enabled(False)
        logger.info("SD3 model %s ready on %s (%s); T5: %s, safety: %s", self.entry.weights, self.device, self.dtype,
                    base.text_encoder_3 is not None, self.safety is not None)

    @property
    def capabilities(self) -> ImageCapabilities:
        """txt2img and img2img with the model's own flow-matching sampler; no masks or conditioning."""
        return ImageCapabilities(modes=frozenset({"txt2img", "img2img"}), step_range=step_range(self.options))

    def run(self, task: ImageTask, cancelled: threading.Event | None = None) -> ImageResult:
        import torch

        cancelled = cancelled or threading.Event()
        if cancelled.is_set():
            raise _Cancelled()
        if task.mode not in ("txt2img", "img2img") or task.control_image is not None:
            raise ValueError(f"the SD3 engine runs txt2img and img2img only, not {task.mode}")
        size = parts.render_size(task.width, task.height, self.options.max_render_side, self.multiple)
        steps = parts.model_steps(task.steps, task.step_scale, self.options.min_steps, self.options.max_steps)
        fixed = self.options.fixed_guidance_scale
        guidance = task.guidance_scale if fixed is None else fixed
        positive = ", ".join(p.text for p in task.prompts if p.weight > 0)
        negative = ", ".join(p.text for p in task.prompts if p.weight < 0) or None
        kwargs: dict[str, Any] = {}
        pipe: Any = self.base
        if task.mode == "img2img":
            assert task.init_image is not None
            pipe = self.img2img
            kwargs.update(image=task.init_image.convert("RGB").resize(size, Image.Resampling.LANCZOS), strength=task.strength)
            steps = parts.steps_for_strength(steps, task.strength)
        else:
            kwargs.update(width=size[0], height=size[1])
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in task.seeds]

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancelled.is_set():
                raise _Cancelled()
            if self.step_listener is not None:
                self.step_listener(step + 1, steps)
            if task.progress is not None:
                task.progress(step + 1, pipe.num_timesteps)
            return tensors

        output = pipe(prompt=[positive] * len(task.seeds), negative_prompt=[negative] * len(task.seeds) if negative else None,
                      num_inference_steps=steps, guidance_scale=guidance, generator=generators,
                      callback_on_step_end=on_step, **kwargs)
        return ImageResult(images=self.finish(task, output.images))
