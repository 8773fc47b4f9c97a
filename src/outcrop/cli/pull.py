"""`outcrop pull`: fetch a profile's weights ahead of time (progress bars from huggingface_hub)."""

from __future__ import annotations

import argparse
from typing import Any

from outcrop.cli.common import add_profile_flags


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "pull", help="download a profile's weights ahead of time",
        description="Download (or, for the test profile, build) the weights of every model in a profile, so the "
        "server can start offline.",
    )
    add_profile_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.config import Settings
    from outcrop.engines.weights import WeightsMissing, companion_weights, fetch_repo, resolve_weights
    from outcrop.registry import load_model_table

    settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
    table = load_model_table(settings.resolved_profile, settings.models_file)
    done: dict[tuple[str, str | None], str] = {}
    tried: set[tuple[str, str | None]] = set()  # entries and engines share weights: fetch each once
    failed = 0

    def fetch(key: tuple[str, str | None], model_id: str, get: Any) -> None:
        nonlocal failed
        if key in tried:
            return
        tried.add(key)
        print(f"{key[0]} (for {model_id})", flush=True)
        try:
            done[key] = str(get())
        except WeightsMissing as exc:
            failed += 1
            print(f"  failed: {exc.message}", flush=True)
            return
        print(f"  ok: {done[key]}", flush=True)

    for entry in table:
        fetch((entry.weights, entry.revision), entry.model_id,
              lambda entry=entry: resolve_weights(entry, settings.cache_dir, table.profile, download=True))
        for repo in companion_weights(entry):
            fetch((repo, None), entry.model_id,
                  lambda repo=repo, entry=entry: fetch_repo(repo, None, model_id=entry.model_id, profile=table.profile, download=True))
    if failed:
        raise CliError(f"{failed} of {failed + len(done)} weight sets could not be fetched")
    print(f"profile {table.profile}: {len(done)} weight sets ready")
    return 0
