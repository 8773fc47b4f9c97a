"""Flags shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from outcrop.config import PROFILES


def add_profile_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", choices=PROFILES, default=None,
        help="model profile: test (tiny random weights, offline), cpu, gpu, auto (gpu if CUDA else cpu). "
        "Env: OUTCROP_PROFILE. Default: auto.",
    )
    parser.add_argument(
        "--models", type=Path, default=None, metavar="FILE",
        help="TOML file whose [models.\"<id>\"] entries replace or add to the profile's. Env: OUTCROP_MODELS_FILE.",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="where built and downloaded weights live. Env: OUTCROP_CACHE_DIR.")


def add_command(subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str,  # type: ignore[type-arg]
                examples: list[str]) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with runnable examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return subparsers.add_parser(name, help=help, description=description, epilog=epilog,  # type: ignore[no-any-return]
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def add_shared_flags(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--json, --debug and --log-level, on the top-level parser and on every subcommand (so both
    `outcrop --debug embed …` and `outcrop embed … --debug` work). A subcommand's copies default
    to SUPPRESS so they never overwrite what was given before the subcommand's name."""
    default = (lambda value: value) if top_level else (lambda value: argparse.SUPPRESS)
    known = parser._option_string_actions
    if "--json" not in known:
        parser.add_argument("--json", action="store_true", default=default(False),
                            help="print one machine-readable JSON document on stdout (errors: a JSON object on stderr)")
    parser.add_argument("--debug", action="store_true", default=default(False),
                        help="show library warnings and debug logs, and a traceback on errors")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=default(None),
                        help="outcrop's log level (default: info for serve, warning otherwise)")
