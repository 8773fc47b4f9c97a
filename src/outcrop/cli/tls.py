"""`outcrop tls-init`: a self-signed certificate and key, so `serve --tls-cert/--tls-key` takes API keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from outcrop.cli.common import add_command
from outcrop.cli.output import emit


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers, "tls-init", help="write a self-signed TLS certificate and key for serve",
        description="Write cert.pem and key.pem (self-signed, for localhost, 127.0.0.1 and ::1 plus any --name) "
        "into DIR. Then: outcrop serve --tls-cert DIR/cert.pem --tls-key DIR/key.pem, and point clients at "
        "https://127.0.0.1:PORT with AWS_CA_BUNDLE=DIR/cert.pem. --json prints {\"cert\", \"key\", \"names\"}.",
        examples=["outcrop tls-init --out tls/", "outcrop tls-init --out tls/ --name my-gpu-box --name 10.0.0.5 --force --json"],
    )
    parser.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder for cert.pem and key.pem. Default: .")
    parser.add_argument("--name", action="append", default=[], help="another DNS name or IP address the certificate covers (repeatable).")
    parser.add_argument("--force", action="store_true", help="overwrite existing files.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.server.tls import DEFAULT_NAMES, write_self_signed

    cert, key = args.out / "cert.pem", args.out / "key.pem"
    if not args.force and (cert.exists() or key.exists()):
        raise CliError(f"{cert} or {key} exists already; pass --force to replace them")
    names = DEFAULT_NAMES + tuple(args.name)
    write_self_signed(cert, key, names=names)
    emit(args, {"cert": str(cert), "key": str(key), "names": list(names)},
         f"wrote {cert} and {key}\nserve:  outcrop serve --tls-cert {cert} --tls-key {key}\n"
         f"client: AWS_CA_BUNDLE={cert} AWS_ENDPOINT_URL_BEDROCK_RUNTIME=https://127.0.0.1:8080")
    return 0
