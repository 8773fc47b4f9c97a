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
