"""`outcrop embed`: a Titan multimodal embedding of a text and/or an image (the SDK's `embed_text`
and `embed_image`), as one line of JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import print_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers, "embed", help="embed a text and/or an image (Titan multimodal embeddings)",
        description="Print the embedding of a text, an image, or both (Titan's joint embedding), as one line of "
        "JSON (with or without --json: {\"embedding\": [...], \"inputTextTokenCount\": N}). Runs the model "
        "in-process, or calls a server with --endpoint (outcrop or real Bedrock).",
        examples=["outcrop embed --profile test --text \"赤い車\"",
                  "outcrop embed --image photo.jpg --dimensions 256 | head -c 200",
                  "outcrop embed --text \"a red car\" --image car.png --endpoint http://127.0.0.1:8080"],
    )
    parser.add_argument("--text", help="text to embed")
    parser.add_argument("--image", type=Path, help="image file to embed")
    parser.add_argument("--dimensions", type=int, choices=[256, 384, 1024], default=None)
    parser.add_argument("--model", default="amazon.titan-embed-image-v1", help="model id")
    parser.add_argument("--endpoint", default=None, help="call this bedrock-runtime endpoint instead of running in-process")
    add_profile_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.cli.assistant import read_image, session

    if args.text is None and args.image is None:
        raise CliError("give --text, --image or both")
    image = read_image(args.image) if args.image is not None else None
    with session(args) as s:
        if image is not None:
            result = s.assistant.embed_image(image, text=args.text, dimensions=args.dimensions, model=args.model)
        else:
            result = s.assistant.embed_text(args.text, dimensions=args.dimensions, model=args.model)
    print_json({"embedding": result.vector, "inputTextTokenCount": result.input_tokens})
    return 0
