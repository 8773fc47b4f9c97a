"""Tesseract OCR as grounding for text extraction: the VLM reads the image, and also gets what
Tesseract read, as context it may correct. Runs the `tesseract` command (Debian: tesseract-ocr,
tesseract-ocr-jpn, tesseract-ocr-eng; `make system-deps`), so no Python binding is needed. Where the
command is missing, grounding is off and one log line says why."""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
from dataclasses import replace

from PIL import Image

from outcrop.tasks.chat import ChatTask, ChatTurn, ImagePart, TextPart

logger = logging.getLogger(__name__)

INSTALL_HINT = "install tesseract-ocr tesseract-ocr-jpn tesseract-ocr-eng (make system-deps)"
GROUNDING_HEADER = "Text that OCR (Tesseract) read in image {n} (it may contain mistakes; check it against the image):"


@functools.cache
def find_tesseract(name: str = "tesseract") -> str | None:
    return shutil.which(name)


@functools.cache
def installed_languages(binary: str) -> frozenset[str]:
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())


def usable_languages(binary: str, wanted: str) -> str | None:
    """`wanted` ("jpn+eng") narrowed to the installed traineddata; None when none is installed."""
    have = installed_languages(binary)
    chosen = [lang for lang in wanted.split("+") if lang in have]
    missing = [lang for lang in wanted.split("+") if lang not in have]
    if missing:
        logger.warning("tesseract has no %s language data; %s", "+".join(missing), INSTALL_HINT)
    return "+".join(chosen) or None


def remove_rules(image: Image.Image) -> Image.Image:
    """Grayscale copy with full-length ruled lines (table grids) painted white. Tesseract reads
    ruled tables badly (measured: one cell of nine) and well once the rules are gone (all nine).
    Left alone when many rows or columns are dark (a dark photo, not a ruled page)."""
    import numpy as np

    pixels = np.asarray(image.convert("L")).copy()
    dark = pixels < 128
    rows, columns = dark.mean(axis=1) > 0.5, dark.mean(axis=0) > 0.5
    if rows.mean() > 0.1 or columns.mean() > 0.1:
        return image.convert("L")
    pixels[rows, :] = 255
    pixels[:, columns] = 255
    return Image.fromarray(pixels)


def ocr_image(image: Image.Image, binary: str, languages: str, timeout_s: float = 60.0) -> str:
    """The text Tesseract reads in `image` (PNG on stdin, text on stdout): rules removed, page
    segmentation 6 (one block of text: keeps table rows together), runs of spaces collapsed."""
    buffer = io.BytesIO()
    remove_rules(image).save(buffer, "PNG")
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", languages, "--psm", "6"],
        input=buffer.getvalue(), capture_output=True, timeout=timeout_s, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tesseract exited with {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")
    lines = [" ".join(line.split()) for line in done.stdout.decode("utf-8", errors="replace").splitlines()]
    return "\n".join(line for line in lines if line).strip()


class OcrGrounding:
    """Adds Tesseract's reading of the last user turn's images to that turn, before its text."""

    def __init__(self, languages: str = "jpn+eng", binary: str | None = None, timeout_s: float = 60.0) -> None:
        self.binary = binary if binary is not None else find_tesseract()
        self.timeout_s = timeout_s
        self.languages = usable_languages(self.binary, languages) if self.binary else None
        if not self.binary:
            logger.warning("OCR grounding is off: the tesseract command was not found; %s", INSTALL_HINT)
        elif not self.languages:
            logger.warning("OCR grounding is off: tesseract has none of the languages %s", languages)

    @property
    def available(self) -> bool:
        return bool(self.binary and self.languages)

    def texts(self, images: list[Image.Image]) -> list[str]:
        assert self.binary and self.languages
        return [ocr_image(image, self.binary, self.languages, self.timeout_s) for image in images]

    def ground(self, task: ChatTask) -> ChatTask:
        """The task with OCR text added to its last user turn (unchanged if that turn has no image)."""
        if not self.available:
            return task
        index = max((i for i, t in enumerate(task.turns) if t.role == "user"), default=None)
        if index is None:
            return task
        turn = task.turns[index]
        images = [p.image for p in turn.parts if isinstance(p, ImagePart)]
        if not images:
            return task
        try:
            texts = self.texts(images)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("OCR grounding skipped for this request: %s", exc)
            return task
        notes = []
        for n, text in enumerate(texts, start=1):
            notes.append(f"{GROUNDING_HEADER.format(n=n)}\n<ocr>\n{text or '(no text found)'}\n</ocr>")
        parts = list(turn.parts)
        first_text = next((i for i, p in enumerate(parts) if isinstance(p, TextPart)), len(parts))
        parts.insert(first_text, TextPart("\n\n".join(notes) + "\n\n"))
        turns = list(task.turns)
        turns[index] = ChatTurn(role=turn.role, parts=tuple(parts))
        return replace(task, turns=tuple(turns))
