"""`outcrop serve`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from outcrop.cli.common import add_command, add_profile_flags


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers, "serve", help="serve the bedrock-runtime API",
        description="Serve the bedrock-runtime API over HTTP/1.1 and HTTP/2 (h2c; h2 over TLS). Point boto3 at it "
        "with AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://HOST:PORT. --json: JSON log lines (as --log-format json).",
        examples=["outcrop serve --profile test", "outcrop serve --profile gpu --host 0.0.0.0 --auth-file keys.toml --preload",
                  "outcrop serve --tls-cert tls/cert.pem --tls-key tls/key.pem --json --access-log"],
    )
    add_profile_flags(parser)
    parser.add_argument("--host", default=None, help="address to bind. Env: OUTCROP_HOST. Default: 127.0.0.1.")
    parser.add_argument("--port", type=int, default=None, help="port. Env: OUTCROP_PORT. Default: 8080.")
    parser.add_argument("--preload", action="store_true", default=None, help="load every model at start-up instead of on first use.")
    parser.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate: serve https (h2 by ALPN).")
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key for --tls-cert.")
    parser.add_argument("--guardrails", type=Path, default=None, metavar="FILE", dest="guardrails_file",
                        help="TOML or YAML file of read-only guardrails in the CreateGuardrail shape, served "
                        "beside the ones made with CreateGuardrail. Env: OUTCROP_GUARDRAILS_FILE.")
    parser.add_argument("--guardrail-judge", default=None, metavar="MODEL_ID", dest="guardrail_judge_model",
                        help="a chat model of the profile that judges PROMPT_ATTACK and MISCONDUCT text for the "
                        "content filters, beside the exemplar detector ('' for none). Env: OUTCROP_GUARDRAIL_JUDGE_MODEL. "
                        "Default: the profile's (the cpu and gpu profiles' own VLM; none on test).")
    parser.add_argument("--guardrail-image-model", default=None, metavar="MODEL_ID", dest="guardrail_image_model",
                        help="the image-text embedding model whose space assesses images for VIOLENCE, HATE, INSULTS "
                        "and MISCONDUCT ('' for none). Env: OUTCROP_GUARDRAIL_IMAGE_MODEL. "
                        "Default: amazon.titan-embed-image-v1.")
    _add_security_flags(parser)
    parser.add_argument(
        "--access-log", action="store_true", default=None,
        help="log one line per request, with its protocol (HTTP/1.1 or HTTP/2). Env: OUTCROP_ACCESS_LOG.",
    )
    parser.set_defaults(func=run)


def _add_security_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security and observability")
    group.add_argument("--auth-file", type=Path, default=None, metavar="FILE",
                       help="TOML file of access keys (SigV4) and API keys (bearer) with their permissions. "
                       "Env: OUTCROP_AUTH_FILE; keys also from OUTCROP_ACCESS_KEYS=AKID:SECRET and OUTCROP_API_KEYS=TOKEN.")
    group.add_argument("--insecure", action="store_true", default=None,
                       help="allow binding a non-loopback address without authentication.")
    group.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN", dest="cors_origins",
                       help="allow cross-origin browser requests from ORIGIN (repeatable; '*' for any). Default: none.")
    group.add_argument("--log-format", choices=("text", "json"), default=None,
                       help="text, or JSON lines with request id, model, operation, latency and outcome. Env: OUTCROP_LOG_FORMAT.")
    group.add_argument("--shutdown-timeout", type=float, default=None, dest="shutdown_timeout_s", metavar="SECONDS",
                       help="on SIGTERM, how long in-flight requests may finish. Default: 30.")


def run(args: argparse.Namespace) -> int:
    from outcrop.cli import CliError
    from outcrop.config import Settings
    from outcrop.runtime import Runtime
    from outcrop.server.auth import load_keys
    from outcrop.server.binding import InsecureBindError, check_bind
    from outcrop.server.http import serve_forever
    from outcrop.server.logs import configure_logging

    settings = Settings.from_env(
        profile=args.profile, models_file=args.models, cache_dir=args.cache_dir, host=args.host, port=args.port,
        preload=args.preload, tls_cert=args.tls_cert, tls_key=args.tls_key,
        auth_file=args.auth_file, insecure=args.insecure,
        cors_origins=tuple(args.cors_origins) if args.cors_origins else None,
        log_format=args.log_format or ("json" if args.json else None), shutdown_timeout_s=args.shutdown_timeout_s, access_log=args.access_log,
        guardrails_file=args.guardrails_file, guardrail_judge_model=args.guardrail_judge_model,
        guardrail_image_model=args.guardrail_image_model,
    )
    configure_logging(args.log_level, settings.log_format)
    try:
        keys = load_keys(settings.auth_file)
        check_bind(settings.host, bool(keys), settings.insecure)
        runtime = Runtime.build(settings)  # a bad model table or option stops here, in one line
    except (InsecureBindError, ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    if settings.guardrails_file is not None:
        from outcrop.guardrails.operator import GuardrailFileError, load

        try:
            load(settings.guardrails_file)  # fail now, naming the line, not on the first request
        except GuardrailFileError as exc:
            raise CliError(str(exc)) from None
    if judge := runtime.guardrail_judge_model:
        from outcrop.server.control_routes import helper_entry

        if helper_entry(runtime, judge, "vision-chat") is None:
            raise CliError(f"--guardrail-judge {judge}: not a chat model of profile "
                           f"{runtime.table.profile}.")
    asyncio.run(serve_forever(settings, runtime))
    return 0
