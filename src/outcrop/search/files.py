"""Find image files under a folder (symlink loops and unreadable folders reported, never fatal) and
read one image: content hash, size, pixels, EXIF time."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

BASE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
OPTIONAL_EXTENSIONS = {".heic", ".heif", ".avif"}  # only when a Pillow plugin registered them
MAX_PIXELS = 178_956_970  # Pillow's own decompression-bomb limit, made an error instead of a warning
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_DATETIME = 0x0132


def image_extensions() -> set[str]:
    registered = set(Image.registered_extensions())
    return BASE_EXTENSIONS | (OPTIONAL_EXTENSIONS & registered)


def scan(root: Path, recursive: bool, report: Callable[[str, str], None]) -> Iterator[str]:
    """Absolute paths of image files under root, each real directory visited once (no symlink loops)."""
    extensions = image_extensions()
    seen_dirs: set[tuple[int, int]] = set()

    def on_error(exc: OSError) -> None:
        report(str(exc.filename), f"cannot read folder: {exc.strerror}")

    top = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True, onerror=on_error):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            report(dirpath, f"cannot read folder: {exc.strerror}")
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            report(dirpath, "symlink loop or repeated folder, skipped")
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        if not recursive:
            dirnames[:] = []
        dirnames.sort()
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in extensions:
                yield os.path.join(dirpath, name)


@dataclass(frozen=True)
class LoadedImage:
    path: str
    content_hash: str
    size: int
    mtime: float
    image: Image.Image
    width: int
    height: int
    taken_at: float | None


class UnreadableImage(Exception):
    """The file vanished, is empty, or is not a decodable image; the message says which."""


def load_image(path: str, thumb: int = 512) -> LoadedImage:
    """Read, hash and decode one file. Pixels are decoded fully (a truncated JPEG fails here, not later)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
            st = os.fstat(fh.fileno())
    except FileNotFoundError:
        raise UnreadableImage("file disappeared before it could be read") from None
    except OSError as exc:
        raise UnreadableImage(f"cannot read file: {exc.strerror}") from None
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise UnreadableImage(f"image too large ({opened.width}×{opened.height} pixels)")
            taken_at = _exif_time(opened)
            width, height = opened.size
            opened.seek(0)
            image = opened.convert("RGB")  # forces a full decode
    except UnreadableImage:
        raise
    except Exception as exc:  # PIL raises many types for corrupt data (OSError, SyntaxError, ValueError...)
        raise UnreadableImage(f"not a readable image: {exc}") from None
    image.thumbnail((thumb, thumb))
    return LoadedImage(path, hashlib.sha256(data).hexdigest(), len(data), st.st_mtime, image, width, height, taken_at)


def _exif_time(image: Image.Image) -> float | None:
    try:
        exif = image.getexif()
        raw = exif.get_ifd(0x8769).get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
        if not raw:
            return None
        return datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").timestamp()
    except Exception:  # EXIF is optional and often malformed: no date, not an error
        return None
