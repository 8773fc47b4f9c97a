"""`outcrop` command line. One module per command group; heavy imports happen inside commands, so
`outcrop --help` answers at once."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

import outcrop

# Each module has `register(subparsers)`, adding its commands with `set_defaults(func=...)`.
COMMAND_MODULES = (
    "outcrop.cli.serve", "outcrop.cli.pull", "outcrop.cli.embed", "outcrop.cli.vision", "outcrop.cli.search",
    "outcrop.cli.generate", "outcrop.cli.tls", "outcrop.cli.guard",
)


EXAMPLES = """examples:
  outcrop serve --profile test                        # Bedrock's API on 127.0.0.1:8080, tiny offline models
  outcrop embed --text "赤い車" --dimensions 256 | head -c 200
  outcrop describe photo.jpg --question "What is on the table?" --json
  outcrop generate "a lighthouse at dawn" -n 2 --out images/
  outcrop index ~/Pictures --collection photos && outcrop search "a red car" --collection photos
  outcrop embed --text hi --endpoint http://127.0.0.1:8080   # against a server (outcrop or Bedrock)"""


def build_parser() -> argparse.ArgumentParser:
    from outcrop.cli.common import add_shared_flags
    from outcrop.cli.output import EXIT_CODES_HELP

    parser = argparse.ArgumentParser(
        prog="outcrop",
        description="Amazon Bedrock's multimodal runtime on your own hardware. Serve the bedrock-runtime API "
        "over open models, or run its tasks from the command line.",
        epilog=f"{EXAMPLES}\n\n{EXIT_CODES_HELP}\n\nEvery command takes --help (with examples), --json, --debug.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"outcrop {outcrop.__version__}")
    add_shared_flags(parser, top_level=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for command in subparsers.choices.values():
        add_shared_flags(command, top_level=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Errors print one line with the fix (--debug: the traceback too); the exit
    codes are listed in `outcrop --help`."""
    from outcrop.cli import output, quiet

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return output.EXIT_USAGE
    serving = args.command == "serve"
    level = args.log_level or ("debug" if args.debug else "info" if serving else "warning")
    # Weight downloads and loads draw bars on a terminal only; `pull` is all about them.
    quiet.configure(level, debug=args.debug, progress_bars=args.command == "pull" or sys.stderr.isatty())
    args.log_level = level
    from outcrop.engines.cpu_threads import configure_openmp

    configure_openmp()  # before any command imports torch
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except KeyboardInterrupt:
        return output.EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return output.EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        return output.report_error(args, exc)


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so Python's exit-time flush does not complain again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class CliError(Exception):
    """A user-facing failure: printed as one line (say what to do about it), exit status 1."""
