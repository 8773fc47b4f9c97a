"""`outcrop` command line. One module per command group; heavy imports happen inside commands, so
`outcrop --help` answers at once."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import outcrop

# Each module has `register(subparsers)`, adding its commands with `set_defaults(func=...)`.
COMMAND_MODULES = (
    "outcrop.cli.serve", "outcrop.cli.pull", "outcrop.cli.embed", "outcrop.cli.vision", "outcrop.cli.search",
    "outcrop.cli.generate", "outcrop.cli.tls", "outcrop.cli.guard",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcrop",
        description="Amazon Bedrock's multimodal runtime on your own hardware. Serve the bedrock-runtime API "
        "over open models, or run its tasks from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"outcrop {outcrop.__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from outcrop.engines.cpu_threads import configure_openmp

    configure_openmp()  # before any command imports torch
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"outcrop: {exc}", file=sys.stderr)
        return 1


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""
