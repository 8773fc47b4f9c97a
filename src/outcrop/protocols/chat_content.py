"""Converse/Anthropic content → task parts: images checked against Bedrock's limits, documents
read (PDF pages rendered to images with pypdfium2; txt/md/csv/html as text), everything counted."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field

from PIL import Image

from outcrop.errors import ValidationException
from outcrop.protocols.images import ImageLimits, decode_base64, open_image
from outcrop.tasks.chat import ImagePart, Part, TextPart

# Bedrock's documented Converse limits (shared/spec §3.4).
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_750_000
MAX_IMAGE_SIDE = 8000
MAX_DOCUMENTS = 5
MAX_DOCUMENT_BYTES = 4_500_000
PDF_MAX_PAGES = 20
PDF_RENDER_SIDE = 1024  # long side, in pixels, of a rendered PDF page
IMAGE_LIMITS = ImageLimits(max_bytes=MAX_IMAGE_BYTES, max_pixels=MAX_IMAGE_SIDE * MAX_IMAGE_SIDE, max_side=MAX_IMAGE_SIDE)
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
TEXT_DOCUMENTS = {"txt", "md", "csv", "html"}
UNSUPPORTED_DOCUMENTS = {"doc", "docx", "xls", "xlsx"}
_NAME = re.compile(r"^[A-Za-z0-9\-\(\)\[\]]+( [A-Za-z0-9\-\(\)\[\]]+)*$")


@dataclass
class ContentBudget:
    """Counts images and documents across the whole request, as Bedrock's limits are per request."""

    images: int = 0
    documents: int = 0
    names: set[str] = field(default_factory=set)

    def add_image(self) -> None:
        self.images += 1
        if self.images > MAX_IMAGES:
            raise ValidationException(f"Too many images in the request: the limit is {MAX_IMAGES} images. Send fewer images.")


def image_part(data: str, declared: str, where: str, budget: ContentBudget) -> ImagePart:
    """A checked image: base64 → bytes within 3.75 MB → decoded within 8000 px, format as declared."""
    budget.add_image()
    raw = decode_base64(data, where, MAX_IMAGE_BYTES)
    image = open_image(raw, where, IMAGE_LIMITS)
    expected = _PIL_FORMATS[declared]
    if image.format != expected:
        raise ValidationException(
            f"{where}: the image data is {image.format} but its format says '{declared}'. "
            f"Set format to '{(image.format or 'unknown').lower()}' or send a {declared} image."
        )
    return ImagePart(image)


def document_parts(
    fmt: str | None, name: str, raw: bytes | None, text: str | None, where: str, budget: ContentBudget
) -> list[Part]:
    """A document as parts: text documents as one text part, PDFs as one image per page."""
    budget.documents += 1
    if budget.documents > MAX_DOCUMENTS:
        raise ValidationException(f"Too many documents in the request: the limit is {MAX_DOCUMENTS}. Send fewer documents.")
    if not _NAME.match(name) or len(name) > 200:
        raise ValidationException(
            f"{where}.name '{name}' is not a valid document name: use 1 to 200 alphanumeric characters, single "
            "spaces, hyphens, parentheses and square brackets."
        )
    if name in budget.names:
        raise ValidationException(f"{where}.name '{name}' is used by two documents; document names must be unique.")
    budget.names.add(name)
    header = f"Document '{name}'"
    if text is not None:
        return [TextPart(f"{header}:\n{text}\n")]
    assert raw is not None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ValidationException(f"{where} is {len(raw):,} bytes, over the limit of {MAX_DOCUMENT_BYTES:,} bytes per document.")
    if fmt is None:
        raise ValidationException(f"{where}.format is required for documents sent as bytes.")
    if fmt in UNSUPPORTED_DOCUMENTS:
        raise ValidationException(
            f"{where}: '{fmt}' documents are not supported by this server. Send pdf, txt, md, csv or html, "
            "or convert the document to PDF."
        )
    if fmt in TEXT_DOCUMENTS:
        try:
            body = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationException(f"{where}: a '{fmt}' document must be UTF-8 text.") from None
        if fmt == "html":
            body = html.unescape(re.sub(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", " ", body, flags=re.S | re.I))
        return [TextPart(f"{header} ({fmt}):\n{body}\n")]
    pages = render_pdf(raw, where)
    for _ in pages:
        budget.add_image()
    return [TextPart(f"{header} (pdf, {len(pages)} page{'s' if len(pages) != 1 else ''}):\n"), *map(ImagePart, pages)]


def render_pdf(raw: bytes, where: str) -> list[Image.Image]:
    """PDF pages as RGB images, long side `PDF_RENDER_SIDE`; a corrupt PDF is a ValidationException."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(io.BytesIO(raw))
    except pdfium.PdfiumError:
        raise ValidationException(f"{where}: the PDF could not be read; the file is corrupt or encrypted.") from None
    try:
        if len(pdf) > PDF_MAX_PAGES:
            raise ValidationException(f"{where}: the PDF has {len(pdf)} pages; at most {PDF_MAX_PAGES} are supported.")
        if len(pdf) == 0:
            raise ValidationException(f"{where}: the PDF has no pages.")
        images = []
        for page in pdf:
            width, height = page.get_size()
            scale = PDF_RENDER_SIDE / max(width, height, 1)
            images.append(page.render(scale=scale).to_pil().convert("RGB"))
            page.close()
        return images
    finally:
        pdf.close()
