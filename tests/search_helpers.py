"""Shared by the search tests: a generated folder of coloured shapes and the tiny in-process embedder."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

COLORS = {"red": (220, 30, 30), "green": (30, 190, 40), "blue": (30, 40, 220), "yellow": (230, 210, 20), "black": (10, 10, 10)}
SHAPES = ("ellipse", "rectangle", "triangle")


def draw_shape(color: str, shape: str, seed: int, size: int = 40) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    x0, y0 = rng.randint(0, size // 3), rng.randint(0, size // 3)
    x1, y1 = x0 + rng.randint(size // 3, size // 2), y0 + rng.randint(size // 3, size // 2)
    if shape == "ellipse":
        draw.ellipse((x0, y0, x1, y1), fill=COLORS[color])
    elif shape == "rectangle":
        draw.rectangle((x0, y0, x1, y1), fill=COLORS[color])
    else:
        draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=COLORS[color])
    return image


def make_folder(folder: Path, n: int, start: int = 0) -> list[Path]:
    """n distinct small images (PNG and JPEG) named colour_shape_i."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        color = list(COLORS)[i % len(COLORS)]
        shape = SHAPES[(i // len(COLORS)) % len(SHAPES)]
        path = folder / f"{color}_{shape}_{i}.{'jpg' if i % 4 == 0 else 'png'}"
        draw_shape(color, shape, seed=i).save(path)
        paths.append(path)
    return paths
