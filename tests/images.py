"""Images that tests make: coloured shapes, as PNG/JPEG bytes or base64."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def shape_image(color: tuple[int, int, int] = (220, 30, 30), size: tuple[int, int] = (96, 64), shape: str = "ellipse") -> Image.Image:
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    box = (size[0] // 5, size[1] // 5, 4 * size[0] // 5, 4 * size[1] // 5)
    (draw.ellipse if shape == "ellipse" else draw.rectangle)(box, fill=color)
    return image


def image_bytes(image: Image.Image | None = None, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    (image or shape_image()).save(buffer, fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def skin_figure(size: tuple[int, int] = (256, 256)) -> Image.Image:
    """A blurred skin-toned figure that Yahoo's open_nsfw scores about 0.7 (MEDIUM for the SEXUAL image
    filter): an image the real classifier flags, drawn rather than shipped."""
    from PIL import ImageFilter

    skin, shade = (210, 150, 120), (170, 100, 70)
    image = Image.new("RGB", (256, 256), (240, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 20, 216, 240), fill=skin)
    draw.ellipse((60, 80, 120, 140), fill=shade)
    draw.ellipse((136, 80, 196, 140), fill=shade)
    image = image.filter(ImageFilter.GaussianBlur(8))
    return image if size == (256, 256) else image.resize(size, Image.Resampling.LANCZOS)
