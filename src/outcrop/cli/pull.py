"""`outcrop pull`: fetch a profile's weights ahead of time (progress bars from huggingface_hub)."""

from __future__ import annotations

import argparse

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
    from outcrop.engines.weights import WeightsMissing, resolve_weights
    from outcrop.registry import load_model_table

    settings = Settings.from_env(profile=args.profile, models_file=args.models, cache_dir=args.cache_dir)
    table = load_model_table(settings.resolved_profile, settings.models_file)
    done: dict[tuple[str, str | None], str] = {}
    failed = 0
    for entry in table:
        key = (entry.weights, entry.revision)
        if key in done:
            continue
        print(f"{entry.weights} (for {entry.model_id})", flush=True)
        try:
            done[key] = str(resolve_weights(entry, settings.cache_dir, table.profile, download=True))
        except WeightsMissing as exc:
            failed += 1
            print(f"  failed: {exc.message}", flush=True)
            continue
        print(f"  ok: {done[key]}", flush=True)
    if failed:
        raise CliError(f"{failed} of {failed + len(done)} weight sets could not be fetched")
    print(f"profile {table.profile}: {len(done)} weight sets ready")
    return 0
