"""Decode base64 images from request bodies, safely: size checked before decoding, pixels before loading.

A decompression bomb (a small file declaring 50,000×50,000 pixels) is refused from its header,
before any pixel is decoded, so memory never spikes.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from outcrop.errors import ValidationException

# Pillow's own bomb guard, as a second line behind the explicit checks below.
Image.MAX_IMAGE_PIXELS = 64_000_000


_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP", "TIFF": "TIFF"}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_side: int = 8192
    formats: frozenset[str] = frozenset({"PNG", "JPEG", "WEBP", "GIF"})


def decode_base64(data: str, field: str, max_bytes: int) -> bytes:
    """Bytes of a base64 string, refusing oversize input before decoding it."""
    if len(data) * 3 // 4 > max_bytes + 3:
        raise ValidationException(
            f"{field} is too large: {len(data) * 3 // 4:,} bytes after decoding, over the limit of {max_bytes:,} bytes."
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"{field} is not valid base64. Send the image bytes base64-encoded.") from None
    if len(raw) > max_bytes:
        raise ValidationException(f"{field} is too large: {len(raw):,} bytes, over the limit of {max_bytes:,} bytes.")
    return raw


def open_image(raw: bytes, field: str, limits: ImageLimits) -> Image.Image:
    """A fully decoded PIL image, or a ValidationException that says what is wrong with it."""
    if not raw:
        raise ValidationException(f"{field} is empty. Send a PNG, JPEG, WebP or GIF image.")
    names = ", ".join(_FORMAT_NAMES.get(f, f) for f in sorted(limits.formats))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if image.format not in limits.formats:
                raise ValidationException(f"{field} is a {image.format} image; supported formats are {names}.")
            if width * height > limits.max_pixels or max(width, height) > limits.max_side:
                raise _too_many_pixels(field, f"is {width}x{height} pixels,", limits)
            image.load()
    except ValidationException:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses huge declared sizes inside Image.open, before our own check sees the size.
        raise _too_many_pixels(field, "declares a size", limits) from None
    except UnidentifiedImageError:
        raise ValidationException(f"{field} is not a valid image. Send a {names} image.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ValidationException(f"{field} could not be decoded: the image data is truncated or corrupt.") from None
    return image


def _too_many_pixels(field: str, what: str, limits: ImageLimits) -> ValidationException:
    return ValidationException(
        f"{field} {what} over the limit of {limits.max_pixels:,} pixels ({limits.max_side} px per side). "
        "Resize the image and try again."
    )


def decode_image(data: str, field: str, limits: ImageLimits) -> Image.Image:
    return open_image(decode_base64(data, field, limits.max_bytes), field, limits)
