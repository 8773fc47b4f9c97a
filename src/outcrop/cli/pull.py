"""`outcrop pull`: fetch a profile's weights ahead of time (progress bars from huggingface_hub)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import print_json, wants_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers, "pull", help="download a profile's weights ahead of time",
        description="Download (or, for the test profile, build) the weights of every model in a profile, so the "
        "server can start offline. --json prints {\"profile\", \"ready\": [{\"weights\", \"revision\", \"path\", "
        "\"for\"}], \"failed\": [{\"weights\", \"for\", \"message\"}]} on stdout and the progress on stderr.",
        examples=["outcrop pull --profile test", "outcrop pull --profile cpu --cache-dir /data/outcrop",
                  "outcrop pull --profile gpu --models extra.toml --json"],
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
    ready: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    tried: set[tuple[str, str | None]] = set()  # entries and engines share weights: fetch each once
    progress = sys.stderr if wants_json(args) else sys.stdout  # --json keeps stdout for the one document

    def fetch(key: tuple[str, str | None], model_id: str, get: Any) -> None:
        if key in tried:
            return
        tried.add(key)
        print(f"{key[0]} (for {model_id})", file=progress, flush=True)
        try:
            done[key] = str(get())
        except WeightsMissing as exc:
            failures.append({"weights": key[0], "for": model_id, "message": exc.message})
            print(f"  failed: {exc.message}", file=progress, flush=True)
            return
        ready.append({"weights": key[0], "revision": key[1], "path": done[key], "for": model_id})
        print(f"  ok: {done[key]}", file=progress, flush=True)

    for entry in table:
        fetch((entry.weights, entry.revision), entry.model_id,
              lambda entry=entry: resolve_weights(entry, settings.cache_dir, table.profile, download=True))
        for repo in companion_weights(entry):
            fetch((repo, None), entry.model_id,
                  lambda repo=repo, entry=entry: fetch_repo(repo, None, model_id=entry.model_id, profile=table.profile, download=True))
    if wants_json(args):
        print_json({"profile": table.profile, "ready": ready, "failed": failures})
    if failures:
        raise CliError(f"{len(failures)} of {len(failures) + len(done)} weight sets could not be fetched")
    if not wants_json(args):
        print(f"profile {table.profile}: {len(done)} weight sets ready")
    return 0
