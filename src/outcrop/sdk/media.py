"""Images and documents in whatever form the caller has them (bytes, a path, a PIL image) turned
into the bytes and format names Bedrock's bodies need."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from PIL import Image as PILImage

ImageInput = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", "PILImage.Image"]

_DOC_FORMATS = {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}


def sniff_image_format(data: bytes) -> str | None:
    """png / jpeg / gif / webp from the magic bytes, as Converse names them; None if none of them."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_pil_image(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "mode")


def image_bytes(value: ImageInput) -> tuple[bytes, str]:
    """(bytes, format) of an image given as bytes, a path or a PIL image (saved as PNG)."""
    if is_pil_image(value):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")  # type: ignore[union-attr]
        return buffer.getvalue(), "png"
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        data = Path(value).read_bytes()
    else:
        raise TypeError(f"an image must be bytes, a path or a PIL image, not {type(value).__name__}")
    kind = sniff_image_format(data)
    if kind is None:
        raise ValueError("not a PNG, JPEG, GIF or WebP image")
    return data, kind


def png_or_jpeg(value: ImageInput) -> bytes:
    """Bytes Titan/Nova/SDXL accept (PNG or JPEG); other formats are converted to PNG."""
    data, kind = image_bytes(value)
    if kind in ("png", "jpeg"):
        return data
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


@dataclass(frozen=True)
class Document:
    """A document for Converse: bytes, a format Bedrock names (pdf, csv, doc, docx, xls, xlsx, html,
    txt, md) and a name (Bedrock allows letters, digits, single spaces, hyphens, parentheses and
    square brackets)."""

    data: bytes
    format: str
    name: str = "document"

    @classmethod
    def of(cls, value: Document | bytes | str | os.PathLike[str]) -> Document:
        """From a path (format from the suffix), PDF bytes, or a Document as is."""
        if isinstance(value, Document):
            return value
        if isinstance(value, (bytes, bytearray)):
            if not bytes(value).startswith(b"%PDF-"):
                raise ValueError("document bytes must be a PDF; pass Document(data, format=...) for other formats")
            return cls(bytes(value), "pdf")
        path = Path(value)
        kind = path.suffix.lower().lstrip(".")
        if kind not in _DOC_FORMATS:
            raise ValueError(f"{path}: document format must be one of {sorted(_DOC_FORMATS)}")
        return cls(path.read_bytes(), kind, safe_name(path.stem))


def safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9\s\-()\[\]]", " ", text)
    return " ".join(name.split())[:200] or "document"


def is_pdf(value: Any) -> bool:
    if isinstance(value, Document):
        return value.format == "pdf"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:5]) == b"%PDF-"
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if path.suffix.lower() == ".pdf":
            return True
        with path.open("rb") as handle:
            return handle.read(5) == b"%PDF-"
    return False
