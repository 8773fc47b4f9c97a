"""`outcrop describe`, `outcrop ocr`, `outcrop compare`: image understanding from the command line,
as thin layers over the SDK's `describe`, `ask`, `extract` and `compare_images`, run in-process
(the server's own code) or against `--endpoint` (outcrop or real Bedrock) alike."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import emit

if TYPE_CHECKING:
    from outcrop.sdk.results import TextResult

DEFAULT_MODEL = "amazon.nova-lite-v1:0"
DESCRIBE = "Describe this image."
TRANSCRIBE = "Transcribe all the text in this {what} exactly as written, line by line. Output only the text."
COMPARE = "Compare these two images: what do they have in common and how do they differ?"
ANSWER_JSON = '{"text", "model_id", "stop_reason", "usage": {"input_tokens", "output_tokens"}}'


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    describe = add_command(subparsers, "describe", help="describe an image, or answer a question about it",
                           description="Describe an image (or answer --question about it) with a vision chat model "
                           f"(the SDK's describe). --json prints {ANSWER_JSON}.",
                           examples=["outcrop describe photo.jpg --profile test",
                                     "outcrop describe photo.jpg --question \"What is on the table?\" --max-tokens 100 --json",
                                     "outcrop describe photo.jpg --endpoint http://127.0.0.1:8080 --model amazon.nova-lite-v1:0"])
    describe.add_argument("image", type=Path)
    describe.add_argument("--question", default=DESCRIBE, help="what to ask about the image")
    _common(describe, max_tokens=512)
    describe.set_defaults(func=run_describe)

    ocr = add_command(subparsers, "ocr", help="read the text of an image or PDF (Tesseract-grounded)",
                      description="Transcribe the text of an image or a PDF, or with --json extract it as one JSON object "
                      "(its fields and tables; the SDK's extract, with one repair round if the answer is not JSON). "
                      "outcrop gives the model Tesseract's reading as grounding where tesseract is installed.",
                      examples=["outcrop ocr receipt.png --profile test", "outcrop ocr invoice.pdf --json --max-tokens 1024",
                                "outcrop ocr scan.jpg --endpoint http://127.0.0.1:8080"])
    ocr.add_argument("file", type=Path, help="PNG, JPEG, GIF, WebP image or PDF document")
    ocr.add_argument("--json", action="store_true", help="answer one JSON object (fields and tables) instead of plain text")
    _common(ocr, max_tokens=2048)
    ocr.set_defaults(func=run_ocr)

    compare = add_command(subparsers, "compare", help="compare two images",
                          description="Say what two images share and how they differ (the SDK's compare_images). "
                          f"--json prints {ANSWER_JSON}.",
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


def answer_json(result: TextResult) -> dict[str, Any]:
    """ANSWER_JSON: the same fields in-process and through an endpoint."""
    return {"text": result.text, "model_id": result.model_id, "stop_reason": result.stop_reason,
            "usage": {"input_tokens": result.usage.input_tokens, "output_tokens": result.usage.output_tokens}}


def run_describe(args: argparse.Namespace) -> int:
    from outcrop.cli.assistant import read_image, session

    image = read_image(args.image)
    with session(args) as s:
        result = s.assistant.describe(image, question=args.question, max_tokens=args.max_tokens, model=args.model)
    emit(args, answer_json(result), result.text)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from outcrop.cli.assistant import read_image, session

    a, b = read_image(args.a), read_image(args.b)
    with session(args) as s:
        result = s.assistant.compare_images(a, b, question=args.question, max_tokens=args.max_tokens, model=args.model)
    emit(args, answer_json(result), result.text)
    return 0


def run_ocr(args: argparse.Namespace) -> int:
    """Plain text: `ask` with a transcription prompt (which outcrop grounds on Tesseract's reading);
    --json: `extract`, printed as the JSON object it parsed."""
    from outcrop.cli import CliError
    from outcrop.cli.assistant import read_file, session
    from outcrop.sdk.media import Document, safe_name, sniff_image_format

    data = read_file(args.file)
    is_pdf = data[:5] == b"%PDF-"
    if not is_pdf and sniff_image_format(data) is None:
        raise CliError(f"{args.file}: not a PNG, JPEG, GIF or WebP image, nor a PDF")
    document = Document(data, "pdf", safe_name(args.file.stem)) if is_pdf else None
    with session(args) as s:
        if args.json:
            extracted = s.assistant.extract(document or data, max_tokens=args.max_tokens, model=args.model)
        else:
            prompt = TRANSCRIBE.format(what="document" if is_pdf else "image")
            answer = s.assistant.ask(prompt, images=None if is_pdf else data, documents=[document] if document else (),
                                     max_tokens=args.max_tokens, model=args.model)
    if not args.json:
        print(answer.text)
        return 0
    json.dump(extracted.data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
