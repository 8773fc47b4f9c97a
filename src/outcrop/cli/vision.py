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

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.invoke import converse_json
from outcrop.cli.output import emit

DEFAULT_MODEL = "amazon.nova-lite-v1:0"
TRANSCRIBE = "Transcribe all the text in this {what} exactly as written, line by line. Output only the text."
TO_JSON = (
    "Extract the content of this {what} as one JSON object: its fields as key-value pairs and any table as a list "
    "of rows. Output only the JSON."
)
COMPARE = "Compare these two images: what do they have in common and how do they differ?"
_FORMATS = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}
ANSWER_JSON = '{"text", "model_id", "stop_reason", "usage": {"input_tokens", "output_tokens"}}'


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    describe = add_command(subparsers, "describe", help="describe an image, or answer a question about it",
                           description="Describe an image (or answer --question about it) with a vision chat model. "
                           f"--json prints {ANSWER_JSON}.",
                           examples=["outcrop describe photo.jpg --profile test",
                                     "outcrop describe photo.jpg --question \"What is on the table?\" --max-tokens 100 --json",
                                     "outcrop describe photo.jpg --endpoint http://127.0.0.1:8080 --model amazon.nova-lite-v1:0"])
    describe.add_argument("image", type=Path)
    describe.add_argument("--question", default="Describe this image.", help="what to ask about the image")
    _common(describe, max_tokens=512)
    describe.set_defaults(func=run_describe)

    ocr = add_command(subparsers, "ocr", help="read the text of an image or PDF (Tesseract-grounded)",
                      description="Transcribe the text of an image or a PDF, or with --json extract it as one JSON object "
                      "(its fields and tables). The model gets Tesseract's reading as grounding where tesseract is installed.",
                      examples=["outcrop ocr receipt.png --profile test", "outcrop ocr invoice.pdf --json --max-tokens 1024",
                                "outcrop ocr scan.jpg --endpoint http://127.0.0.1:8080"])
    ocr.add_argument("file", type=Path, help="PNG, JPEG, GIF, WebP image or PDF document")
    ocr.add_argument("--json", action="store_true", help="answer one JSON object (fields and tables) instead of plain text")
    _common(ocr, max_tokens=2048)
    ocr.set_defaults(func=run_ocr)

    compare = add_command(subparsers, "compare", help="compare two images",
                          description=f"Say what two images share and how they differ. --json prints {ANSWER_JSON}.",
                          examples=["outcrop compare before.png after.png --profile test",
                                    "outcrop compare a.jpg b.jpg --question \"Which one is newer?\" --json"])
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


def _converse(args: argparse.Namespace, content: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    request = {"messages": [{"role": "user", "content": content}], "inferenceConfig": {"maxTokens": args.max_tokens}, **extra}
    return converse_json(args, args.model, request)


def _text(response: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in response["output"]["message"]["content"])


def _ask(args: argparse.Namespace, content: list[dict[str, Any]], **extra: Any) -> str:
    return _text(_converse(args, content, **extra))


def _answer(args: argparse.Namespace, content: list[dict[str, Any]]) -> int:
    """The answer as text, or with --json as ANSWER_JSON (the same fields with or without --endpoint)."""
    response = _converse(args, content)
    text = _text(response)
    tokens = response.get("usage", {})
    emit(args, {"text": text, "model_id": args.model, "stop_reason": response.get("stopReason"),
                "usage": {"input_tokens": tokens.get("inputTokens", 0), "output_tokens": tokens.get("outputTokens", 0)}},
         text)
    return 0


def run_describe(args: argparse.Namespace) -> int:
    return _answer(args, [image_block(args.image), {"text": args.question}])


def run_compare(args: argparse.Namespace) -> int:
    return _answer(args, [image_block(args.a), image_block(args.b), {"text": args.question}])


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
