"""`outcrop index | search | dupes`: build and query image collections from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from outcrop.cli.common import add_command, add_profile_flags
from outcrop.cli.output import emit


def _collection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", default="default", help="collection name (default: default)")
    parser.add_argument("--uri", default=None, help="Milvus URI (http://host:19530, or a local .db file for milvus-lite); "
                        "default: the embedded store under the data dir. Env: OUTCROP_SEARCH_URI.")
    parser.add_argument("--data-dir", type=Path, default=None, help="where embedded collections live. Env: OUTCROP_DATA_DIR.")


def _embedder_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="amazon.titan-embed-image-v1", help="embedding model id")
    parser.add_argument("--dimensions", type=int, choices=[256, 384, 1024], default=1024)
    parser.add_argument("--endpoint", default=None, help="embed through this bedrock-runtime endpoint instead of in-process")
    add_profile_flags(parser)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_command(subparsers, "index", help="index a folder of images for search",
                    description="Embed the images of DIR into a collection. Re-runs only embed new or changed "
                    "files and drop deleted ones; an interrupted run resumes. --json prints {\"collection\", \"total\", "
                    "\"embedded\", \"reused\", \"unchanged\", \"deleted\", \"skipped\": [{\"path\", \"reason\"}], "
                    "\"seconds\", \"images_per_s\"}.",
                    examples=["outcrop index ~/Pictures -r --collection photos --profile test",
                              "outcrop index photos/ --collection photos --endpoint http://127.0.0.1:8080 --json"])
    p.add_argument("dir", type=Path)
    p.add_argument("--recursive", "-r", action="store_true", help="include sub-folders")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--reindex", action="store_true", help="drop the collection first (needed after changing model or dimensions)")
    p.add_argument("--no-progress", action="store_true")
    _collection_flags(p)
    _embedder_flags(p)
    p.set_defaults(func=run_index)

    s = add_command(subparsers, "search", help="search a collection by text or image",
                    description="Rank indexed images by similarity to a text or an image. --json prints a list of hits "
                    "(path, score, size, mtime, width, height, taken_at, content_hash), best first.",
                    examples=["outcrop search \"a red car\" --collection photos -k 5",
                              "outcrop search --image query.jpg --collection photos --after 2024-01-01 --json | jq '.[0].path'"])
    s.add_argument("text", nargs="?", help="text query")
    s.add_argument("--image", type=Path, help="image file query")
    s.add_argument("-k", type=int, default=10, help="number of results")
    s.add_argument("--folder", help="only images under this folder")
    s.add_argument("--after", help="only images taken (EXIF) or modified on/after this date (YYYY-MM-DD or ISO)")
    s.add_argument("--before", help="only images taken or modified on/before this date")
    s.add_argument("--min-bytes", type=int, help="only files of at least this many bytes")
    s.add_argument("--json", action="store_true", help="print JSON")
    _collection_flags(s)
    _embedder_flags(s)
    s.set_defaults(func=run_search)

    d = add_command(subparsers, "dupes", help="list near-duplicate images of a collection",
                    description="Group the images of a collection whose embeddings are closer than --threshold. --json "
                    "prints a list of groups, each a list of hits.",
                    examples=["outcrop dupes --collection photos", "outcrop dupes --collection photos --threshold 0.9 --json"])
    d.add_argument("--threshold", type=float, default=0.95, help="cosine similarity for 'near duplicate' (default 0.95)")
    d.add_argument("--json", action="store_true")
    _collection_flags(d)
    d.set_defaults(func=run_dupes)


def _settings(args: argparse.Namespace) -> Any:
    from outcrop.config import Settings

    return Settings.from_env(profile=getattr(args, "profile", None), models_file=getattr(args, "models", None),
                             cache_dir=getattr(args, "cache_dir", None), data_dir=args.data_dir)


def _uri(args: argparse.Namespace, settings: Any) -> str | None:
    return args.uri or settings.search_uri or None


def _date(value: str | None, end: bool = False) -> float | None:
    from outcrop.cli import CliError

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"not a date: {value!r} (use YYYY-MM-DD or an ISO date-time)") from None
    if end and len(value) == 10:
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed.timestamp()


def run_index(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.search.collections import open_collection
    from outcrop.search.embedder import make_embedder
    from outcrop.search.indexer import index_folder
    from outcrop.search.store import SearchError

    if not args.dir.is_dir():
        raise CliError(f"not a folder: {args.dir}")
    settings = _settings(args)
    try:
        with make_embedder(endpoint=args.endpoint, model_id=args.model, dimension=args.dimensions, settings=settings) as embedder:
            with open_collection(args.collection, data_dir=settings.data_dir, uri=_uri(args, settings), model_key=embedder.model_key,
                                 dimension=embedder.dimension, reindex=args.reindex) as store:
                report = index_folder(store, embedder, args.dir, recursive=args.recursive, batch_size=args.batch_size,
                                      progress=not args.no_progress,
                                      on_skip=lambda p, why: print(f"skipped {p}: {why}", file=sys.stderr))
                total = store.count()
    except SearchError as exc:
        raise CliError(str(exc)) from None
    summary = {"collection": args.collection, "total": total, "embedded": report.embedded, "reused": report.reused,
               "unchanged": report.unchanged, "deleted": report.deleted,
               "skipped": [{"path": str(path), "reason": why} for path, why in report.skipped],
               "seconds": round(report.seconds, 3), "images_per_s": round(report.images_per_s, 2)}
    emit(args, summary, f"{args.collection}: {total} images; embedded {report.embedded}, reused {report.reused}, unchanged "
         f"{report.unchanged}, deleted {report.deleted}, skipped {len(report.skipped)} in {report.seconds:.1f} s "
         f"({report.images_per_s:.1f} images/s)")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.search.collections import open_collection
    from outcrop.search.embedder import make_embedder
    from outcrop.search.query import hit_dict, search
    from outcrop.search.store import Filters, SearchError

    if (args.text is None) == (args.image is None):
        raise CliError("give a text query or --image FILE (one of them)")
    filters = Filters(folder=args.folder, after=_date(args.after), before=_date(args.before, end=True), min_bytes=args.min_bytes)
    settings = _settings(args)
    try:
        with open_collection(args.collection, data_dir=settings.data_dir, uri=_uri(args, settings)) as store:
            with make_embedder(endpoint=args.endpoint, model_id=args.model, dimension=args.dimensions, settings=settings) as embedder:
                hits = search(store, embedder, k=args.k, filters=filters or None, text=args.text, image_path=args.image)
    except SearchError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        json.dump([hit_dict(h) for h in hits], sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for hit in hits:
            print(f"{hit.score:.4f}  {hit.size:>10,} B  {hit.path}")
    return 0


def run_dupes(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.search.collections import open_collection
    from outcrop.search.query import find_dupes, hit_dict
    from outcrop.search.store import SearchError

    settings = _settings(args)
    try:
        with open_collection(args.collection, data_dir=settings.data_dir, uri=_uri(args, settings)) as store:
            groups = find_dupes(store, threshold=args.threshold)
    except SearchError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        json.dump([[hit_dict(h) for h in g] for g in groups], sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for group in groups:
            print("\n".join(f"{h.score:.4f}  {h.path}" for h in group) + "\n")
    return 0
