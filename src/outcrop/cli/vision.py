"""`outcrop describe`, `outcrop ocr`, `outcrop compare`: image understanding from the command line,
as Converse calls run in-process (same protocol and engine code as the server) or sent to
`--endpoint` (outcrop or real Bedrock) with boto3."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from outcrop.cli.common import add_profile_flags
from outcrop.cli.invoke import converse_json

DEFAULT_MODEL = "amazon.nova-lite-v1:0"
TRANSCRIBE = "Transcribe all the text in this {what} exactly as written, line by line. Output only the text."
TO_JSON = (
    "Extract the content of this {what} as one JSON object: its fields as key-value pairs and any table as a list "
    "of rows. Output only the JSON."
)
COMPARE = "Compare these two images: what do they have in common and how do they differ?"
_FORMATS = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    describe = subparsers.add_parser("describe", help="describe an image, or answer a question about it",
                                     description="Describe an image (or answer --question about it) with a vision chat model.")
    describe.add_argument("image", type=Path)
    describe.add_argument("--question", default="Describe this image.", help="what to ask about the image")
    _common(describe, max_tokens=512)
    describe.set_defaults(func=run_describe)

    ocr = subparsers.add_parser("ocr", help="read the text of an image or PDF (Tesseract-grounded)",
                                description="Transcribe the text of an image or a PDF, or with --json extract it as JSON. "
                                "The model gets Tesseract's reading as grounding where tesseract is installed.")
    ocr.add_argument("file", type=Path, help="PNG, JPEG, GIF, WebP image or PDF document")
    ocr.add_argument("--json", action="store_true", help="answer one JSON object (fields and tables) instead of plain text")
    _common(ocr, max_tokens=2048)
    ocr.set_defaults(func=run_ocr)

    compare = subparsers.add_parser("compare", help="compare two images", description="Say what two images share and how they differ.")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--question", default=COMPARE, help="what to ask about the pair")
    _common(compare, max_tokens=512)
    compare.set_defaults(func=run_compare)


def _common(parser: argparse.ArgumentParser, max_tokens: int) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"Converse model id. Default: {DEFAULT_MODEL}.")
    parser.add_argument("--max-tokens", type=int, default=max_tokens, help=f"answer length limit. Default: {max_tokens}.")
    parser.add_argument("--endpoint", default=None, help="call this bedrock-runtime endpoint instead of running in-process")
    add_profile_flags(parser)


def image_block(path: Path) -> dict[str, Any]:
    """A Converse image block for a file; the format comes from its bytes, not its name."""
    from PIL import Image, UnidentifiedImageError

    from outcrop.cli import CliError

    data = _read(path)
    try:
        with Image.open(path) as image:
            kind = _FORMATS.get(image.format or "")
    except (UnidentifiedImageError, OSError):
        kind = None
    if kind is None:
        raise CliError(f"{path}: not a PNG, JPEG, GIF or WebP image")
    return {"image": {"format": kind, "source": {"bytes": data}}}


def document_block(path: Path) -> dict[str, Any]:
    name = re.sub(r"[^A-Za-z0-9\s\-()\[\]]", " ", path.stem).strip() or "document"
    return {"document": {"format": "pdf", "name": " ".join(name.split())[:200], "source": {"bytes": _read(path)}}}


def _read(path: Path) -> bytes:
    from outcrop.cli import CliError

    if not path.is_file():
        raise CliError(f"no such file: {path}")
    return path.read_bytes()


def _ask(args: argparse.Namespace, content: list[dict[str, Any]], **extra: Any) -> str:
    request = {"messages": [{"role": "user", "content": content}], "inferenceConfig": {"maxTokens": args.max_tokens}, **extra}
    response = converse_json(args, args.model, request)
    return "".join(block.get("text", "") for block in response["output"]["message"]["content"])


def run_describe(args: argparse.Namespace) -> int:
    print(_ask(args, [image_block(args.image), {"text": args.question}]))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    print(_ask(args, [image_block(args.a), image_block(args.b), {"text": args.question}]))
    return 0


def run_ocr(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError

    is_pdf = _read(args.file)[:5] == b"%PDF-"
    what = "document" if is_pdf else "image"
    block = document_block(args.file) if is_pdf else image_block(args.file)
    prompt = (TO_JSON if args.json else TRANSCRIBE).format(what=what)
    answer = _ask(args, [block, {"text": prompt}], additionalModelRequestFields={"ocr": True})
    if not args.json:
        print(answer)
        return 0
    try:
        value = json.loads(answer)
    except json.JSONDecodeError:
        print(answer)
        raise CliError("the model's answer is not complete JSON (raise --max-tokens?)") from None
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
