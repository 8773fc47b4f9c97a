"""`outcrop serve`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from outcrop.cli.common import add_profile_flags


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve", help="serve the bedrock-runtime API",
        description="Serve the bedrock-runtime API over HTTP/1.1 and HTTP/2 (h2c; h2 over TLS). Point boto3 at it "
        "with AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://HOST:PORT.",
    )
    add_profile_flags(parser)
    parser.add_argument("--host", default=None, help="address to bind. Env: OUTCROP_HOST. Default: 127.0.0.1.")
    parser.add_argument("--port", type=int, default=None, help="port. Env: OUTCROP_PORT. Default: 8080.")
    parser.add_argument("--preload", action="store_true", default=None, help="load every model at start-up instead of on first use.")
    parser.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate: serve https (h2 by ALPN).")
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key for --tls-cert.")
    parser.add_argument(
        "--access-log", action="store_true", default=None,
        help="log one line per request, with its protocol (HTTP/1.1 or HTTP/2). Env: OUTCROP_ACCESS_LOG.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from outcrop.config import Settings
    from outcrop.server.http import serve_forever

    settings = Settings.from_env(
        profile=args.profile, models_file=args.models, cache_dir=args.cache_dir, host=args.host, port=args.port,
        preload=args.preload, tls_cert=args.tls_cert, tls_key=args.tls_key, access_log=args.access_log,
    )
    asyncio.run(serve_forever(settings))
    return 0
