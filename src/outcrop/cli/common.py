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
