"""What the image-generation body families share: random seeds, mask reading, image limits, Bedrock's step
scale, and the check of a task against what the serving engine reports it can do."""

from __future__ import annotations

import secrets

from PIL import Image

from outcrop.errors import ValidationException
from outcrop.protocols.images import ImageLimits, decode_image
from outcrop.tasks.image_generation import ImageCapabilities, ImageTask

# Bedrock's step range (Stability SDXL's `steps`); the image families' steps are counted on it, and an engine
# with a step range of its own (a distilled model) maps them linearly onto that.
BEDROCK_STEPS = (10, 150)


def random_seed(upper: int) -> int:
    """A seed in 1..upper, for requests that ask for a random one (the seed used is reported back)."""
    return 1 + secrets.randbelow(upper)


def read_image(data: str, field: str, limits: ImageLimits) -> Image.Image:
    image = decode_image(data, field, limits)
    if image.format not in ("PNG", "JPEG"):
        raise ValidationException(f"{field} must be a PNG or JPEG image.")
    return image


def same_size(image: Image.Image, mask: Image.Image, image_field: str, mask_field: str) -> None:
    if image.size != mask.size:
        raise ValidationException(
            f"{mask_field} is {mask.width}x{mask.height} pixels but {image_field} is {image.width}x{image.height}; "
            f"the mask must be the same size as the image."
        )


def binary_mask(mask: Image.Image, white_is_inside: bool) -> Image.Image:
    """An "L" mask in diffusers' convention (white = repaint) from a client's mask image."""
    grey = mask.convert("L")
    return grey.point(lambda v: 255 if (v >= 128) == white_is_inside else 0)


def check_capabilities(task: ImageTask, capabilities: ImageCapabilities) -> None:
    """Refuse, before queueing, a task the serving engine reports it cannot run. Families that can ask for
    more (Titan's conditioning, mask prompts, background removal) check those parts first in their words."""
    if task.mode not in capabilities.modes:
        raise ValidationException(f"The model that serves this id here cannot run {task.mode} requests.")
    if task.sampler is not None and task.sampler not in capabilities.samplers:
        raise ValidationException("The model that serves this id here does not offer the requested sampler.")
