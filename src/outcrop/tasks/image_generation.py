"""Image generation and editing tasks, free of any wire format.

Protocols (Stability SDXL and SD3, Titan/Nova) build an `ImageTask`; an engine that offers
`ImageGenerator` runs it and returns one `GeneratedImage` per requested image, each with the seed
actually used. The engine reports what it can do (`ImageCapabilities`) and the protocol refuses, in
its family's words, a task the engine cannot run.
A caller that follows a job's progress puts a `progress` callback on the task; the engine calls it
from its worker thread after each denoising step with (step, steps), so engines stay free of any transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from PIL import Image

Mode = Literal["txt2img", "img2img", "inpaint", "remove_background"]
ControlMode = Literal["canny", "segmentation"]
# Sampling algorithms by their k-diffusion names; protocols map their families' names onto these.
Sampler = Literal["ddim", "ddpm", "dpmpp_2m", "dpmpp_2s_ancestral", "dpm_2", "dpm_2_ancestral", "euler",
                  "euler_ancestral", "heun", "lms"]

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
    # The range `steps` is counted on (a wire's scale): an engine with a step range of its own (a distilled
    # model's few steps) maps `steps` linearly from this range onto its own. None: `steps` are the model's.
    step_scale: tuple[int, int] | None = None
    guidance_scale: float = 7.0
    sampler: Sampler | None = None  # None = the model's default
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


@dataclass(frozen=True)
class ImageCapabilities:
    """What an image engine can run, as data: protocols check a task against it before queueing."""

    modes: frozenset[Mode]  # txt2img always; the edits (img2img, inpaint, remove_background) it has models for
    control_modes: frozenset[ControlMode] = frozenset()  # conditioning models it has loaded
    mask_prompts: bool = False  # it can segment a mask from a text (`ImageTask.mask_prompt`)
    samplers: frozenset[Sampler] = frozenset()  # samplers it honours; a task may also leave the choice to it
    step_range: tuple[int, int] | None = None  # its own (min, max) steps where fixed (distilled models)


class ImageGenerator(Protocol):
    """The typed interface of an image engine: one call generates (txt2img) or edits (the other modes)."""

    @property
    def capabilities(self) -> ImageCapabilities: ...

    async def generate(self, task: ImageTask) -> ImageResult: ...
