"""What every command prints: `--json` output, one readable error line with its fix (or a JSON error
object), and exit codes that scripts can rely on."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and failed: bad input, a Bedrock error, missing weights, ...
EXIT_USAGE = 2  # unknown flag, missing argument (argparse's own status)
EXIT_UNREACHABLE = 3  # the endpoint did not answer, or no AWS credentials or region to sign with
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away, as `| head` does (128 + SIGPIPE, as other Unix tools)

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK:<4} success
  {EXIT_FAILED:<4} the command failed (bad input, a Bedrock error, missing weights); stderr says why and what to do
  {EXIT_USAGE:<4} usage error (unknown flag, missing argument)
  {EXIT_UNREACHABLE:<4} the endpoint cannot be reached, or AWS credentials or a region are missing
  {EXIT_INTERRUPTED:<4} interrupted (Ctrl-C)
  {EXIT_BROKEN_PIPE:<4} stdout was closed early (e.g. piped into head); nothing is printed about it"""


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def print_json(value: Any) -> None:
    """One JSON document on one line: UTF-8 as is, keys in the order the command built them."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def emit(args: argparse.Namespace, value: Any, text: str) -> None:
    """`value` as JSON with --json, else `text` for people."""
    if wants_json(args):
        print_json(value)
    else:
        print(text)


def explain(exc: BaseException) -> tuple[str, int, str]:
    """(one readable line with the fix, exit code, error type) for an exception a command let out."""
    from outcrop.cli import CliError

    kind = type(exc).__name__
    if isinstance(exc, CliError):
        return str(exc), EXIT_FAILED, "CliError"
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    if botocore_exceptions is not None:
        if isinstance(exc, botocore_exceptions.NoCredentialsError):
            return ("no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                    "(an outcrop server without --auth-file accepts any values)"), EXIT_UNREACHABLE, kind
        if isinstance(exc, botocore_exceptions.NoRegionError):
            return ("no AWS region: set AWS_DEFAULT_REGION (e.g. us-east-1; an outcrop server accepts any region)",
                    EXIT_UNREACHABLE, kind)
        if isinstance(exc, (botocore_exceptions.EndpointConnectionError, botocore_exceptions.ConnectionClosedError,
                            botocore_exceptions.ReadTimeoutError, botocore_exceptions.ConnectTimeoutError)):
            return (f"{exc} — is `outcrop serve` running there? Check --endpoint / AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                    EXIT_UNREACHABLE, kind)
        if isinstance(exc, botocore_exceptions.ClientError):
            error = exc.response.get("Error", {})
            return f"{error.get('Code', kind)}: {error.get('Message', exc)}", EXIT_FAILED, str(error.get("Code", kind))
    from outcrop.errors import BedrockError

    if isinstance(exc, BedrockError):
        return f"{exc.code}: {exc.message}", EXIT_FAILED, exc.code
    sdk_errors = sys.modules.get("outcrop.sdk.errors")
    if sdk_errors is not None and isinstance(exc, sdk_errors.BedrockServiceError):
        return f"{exc.code}: {exc.message}", EXIT_FAILED, exc.code  # the request id is in --debug's traceback
    if sdk_errors is not None and isinstance(exc, sdk_errors.AssistantError):
        return str(exc), EXIT_FAILED, kind
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError)):
        return f"{exc} — is `outcrop serve` running there? Check --endpoint", EXIT_UNREACHABLE, kind
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}", EXIT_FAILED, kind
    if isinstance(exc, MemoryError):
        return "out of memory: try a smaller --profile, fewer images (-n) or a smaller --size", EXIT_FAILED, kind
    return (f"unexpected {kind}: {exc} (run again with --debug for the traceback, and please report it)",
            EXIT_FAILED, kind)


def report_error(args: argparse.Namespace | None, exc: BaseException) -> int:
    """Print the error (a JSON object on stderr with --json) and return the exit code."""
    message, code, kind = explain(exc)
    if args is not None and wants_json(args):
        sys.stderr.write(json.dumps({"error": {"type": kind, "message": message, "exit_code": code}}, ensure_ascii=False) + "\n")
    else:
        sys.stderr.write(f"outcrop: {message}\n")
    return code
