"""Pieces of the diffusion engine that do one job each: samplers, weighted prompts, sizes, steps, controls.

Everything here runs on the engine's worker thread; torch is imported lazily.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

from outcrop.tasks.image_generation import Sampler, WeightedPrompt

# Sampling algorithm -> (diffusers scheduler class, extra config). diffusers has no DPM++ 2S ancestral;
# its single-step DPM-Solver++ (2nd order) is the nearest and is documented as such.
SAMPLERS: dict[Sampler, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    "dpmpp_2s_ancestral": ("DPMSolverSinglestepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm_2": ("KDPM2DiscreteScheduler", {}),
    "dpm_2_ancestral": ("KDPM2AncestralDiscreteScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
}


def make_scheduler(sampler: Sampler | None, base_config: Any) -> Any:
    """A fresh scheduler for one request, built from the model's own scheduler config."""
    import diffusers

    if sampler is None:
        name, extra = base_config["_class_name"], {}
    else:
        name, extra = SAMPLERS[sampler]
    return getattr(diffusers, name).from_config(base_config, **extra)


def model_steps(steps: int, scale: tuple[int, int] | None, low: int | None, high: int | None) -> int:
    """`steps` counted on `scale` (the task's), mapped linearly onto low..high model steps when both are set
    (distilled models); otherwise `steps` as asked."""
    if not low or not high or scale is None:
        return steps
    first, last = scale
    share = min(max((steps - first) / max(last - first, 1), 0.0), 1.0)
    return low + round(share * (high - low))


def steps_for_strength(steps: int, strength: float) -> int:
    """diffusers' img2img runs int(total * strength) of `total` steps: ask for steps/strength in total so the
    image is denoised in `steps` steps, starting from the noise level `strength` sets."""
    return max(1, math.ceil(steps / max(strength, 1e-3) - 1e-6))


def render_size(width: int, height: int, max_side: int | None, multiple: int) -> tuple[int, int]:
    """The size the model renders at: the requested one, scaled down to `max_side` (a model's native
    resolution), rounded to the latent grid. The output is resized back to the requested size."""
    scale = 1.0 if not max_side else min(1.0, max_side / max(width, height))
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h


def encode_weighted(pipe: Any, prompts: tuple[WeightedPrompt, ...], count: int, device: str) -> dict[str, Any]:
    """SDXL prompt embeddings honouring weights: each prompt is encoded alone, then positives are averaged
    with their weights (and negatives with |weight|), for both the token and the pooled embeddings."""
    import torch

    positives = [p for p in prompts if p.weight > 0]
    negatives = [p for p in prompts if p.weight < 0]
    texts = [p.text for p in positives + negatives]
    embeds, _, pooled, _ = pipe.encode_prompt(
        prompt=texts, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
    )

    def mix(rows: slice, weights: list[float]) -> tuple[Any, Any]:
        w = torch.tensor(weights, dtype=embeds.dtype, device=embeds.device)
        w = w / w.sum()
        e = (embeds[rows] * w[:, None, None]).sum(0, keepdim=True)
        p = (pooled[rows] * w[:, None]).sum(0, keepdim=True)
        return e, p

    prompt_embeds, pooled_embeds = mix(slice(0, len(positives)), [p.weight for p in positives])
    if negatives:
        neg_embeds, neg_pooled = mix(slice(len(positives), len(texts)), [-p.weight for p in negatives])
    elif getattr(pipe.config, "force_zeros_for_empty_prompt", True):
        neg_embeds, neg_pooled = torch.zeros_like(prompt_embeds), torch.zeros_like(pooled_embeds)
    else:
        neg_embeds, _, neg_pooled, _ = pipe.encode_prompt(
            prompt=[""], device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
    return {
        "prompt_embeds": prompt_embeds.repeat(count, 1, 1),
        "pooled_prompt_embeds": pooled_embeds.repeat(count, 1),
        "negative_prompt_embeds": neg_embeds.repeat(count, 1, 1),
        "negative_pooled_prompt_embeds": neg_pooled.repeat(count, 1),
    }


def control_image(image: Image.Image, mode: str, size: tuple[int, int]) -> Image.Image:
    """The ControlNet conditioning picture: Canny edges, or a colour-quantised region map for SEGMENTATION."""
    import numpy as np

    image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    if mode == "canny":
        import cv2

        edges = cv2.Canny(np.asarray(image.convert("L")), 100, 200)
        return Image.fromarray(np.stack([edges] * 3, axis=-1))
    # SEGMENTATION: flat colour regions (median-cut quantisation), the look of a segmentation map.
    return image.quantize(colors=12).convert("RGB")
