"""Rendered documents with known text, for OCR tests and the extraction bench: Japanese and English
lines and a ruled table, drawn with Noto Sans CJK (Debian fonts-noto-cjk, `make system-deps`)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)


@cache
def cjk_font_path() -> str | None:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK JP"], capture_output=True, text=True, check=False).stdout
        if "CJK" in found and Path(found).exists():
            return found
    return None


def _font(size: int) -> ImageFont.FreeTypeFont:
    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font found: install fonts-noto-cjk (make system-deps)")
    return ImageFont.truetype(path, size, index=0)  # index 0 of the collection: the JP face


def render_lines(lines: list[str], size: int = 32, width: int = 1000, margin: int = 40) -> Image.Image:
    """Black text lines on white, one per row."""
    font = _font(size)
    step = int(size * 1.6)
    image = Image.new("RGB", (width, margin * 2 + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((margin, margin + row * step), line, font=font, fill="black")
    return image


def render_table(rows: list[list[str]], size: int = 28, cell: tuple[int, int] = (260, 60), margin: int = 30) -> Image.Image:
    """A ruled grid with one string per cell (first row: the header)."""
    font = _font(size)
    columns = max(len(r) for r in rows)
    width, height = margin * 2 + cell[0] * columns, margin * 2 + cell[1] * len(rows)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            x, y = margin + c * cell[0], margin + r * cell[1]
            draw.rectangle((x, y, x + cell[0], y + cell[1]), outline="black", width=2)
            draw.text((x + 12, y + (cell[1] - size) // 2 - 2), text, font=font, fill="black")
    return image


def table_text(rows: list[list[str]]) -> str:
    """The reading of a table as text: cells separated by spaces, rows by newlines."""
    return "\n".join(" ".join(row) for row in rows)
