"""Image generation and editing tasks, free of any wire format.

Protocols (Stability SDXL, Titan/Nova) build an `ImageTask`; the diffusion engine runs it and
returns one `GeneratedImage` per requested image, each with the seed actually used. A caller that
follows a job's progress puts a `progress` callback on the task; the engine calls it from its worker
thread after each denoising step with (step, steps), so engines stay free of any transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

Mode = Literal["txt2img", "img2img", "inpaint", "remove_background"]
ControlMode = Literal["canny", "segmentation"]
# (step, steps) after each denoising step, called on the engine's worker thread; it must not block.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class WeightedPrompt:
    text: str
    weight: float = 1.0


@dataclass(frozen=True)
class ImageTask:
    """What to compute. Prompts with weight > 0 are positive, < 0 negative (|weight| is their share)."""

    mode: Mode
    prompts: tuple[WeightedPrompt, ...] = ()
    width: int = 1024
    height: int = 1024
    seeds: tuple[int, ...] = (0,)  # one per output image; len(seeds) = number of images
    steps: int = 30
    guidance_scale: float = 7.0
    sampler: str | None = None  # Bedrock sampler name (K_EULER, DDIM, ...); None = the model's default
    init_image: Image.Image | None = None
    strength: float = 1.0  # diffusers strength: 1 = ignore init_image, 0 = keep it
    mask: Image.Image | None = None  # "L": white = repaint, black = keep (diffusers convention)
    mask_prompt: str | None = None  # segment this to make `mask` (inside = repaint)
    control_image: Image.Image | None = None
    control_mode: ControlMode = "canny"
    control_strength: float = 0.7
    flagged_blackout: bool = True  # SDXL: return a black image when flagged; Titan: drop it
    progress: Progress | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class GeneratedImage:
    png: bytes
    seed: int
    flagged: bool = False


@dataclass
class ImageResult:
    images: list[GeneratedImage] = field(default_factory=list)
    mask_png: bytes | None = None  # the mask used (Titan returnMask)
