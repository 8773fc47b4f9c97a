"""The SDK's `MultimodalAssistant` for a command: at `--endpoint` (outcrop or Bedrock) over boto3,
or over a client served in this process (`InProcessServer`). Every model command calls the SDK's
methods through this, so in-process and remote runs share one code path."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outcrop.cli.inprocess import InProcessServer
    from outcrop.config import Settings
    from outcrop.sdk import MultimodalAssistant


@dataclass
class Session:
    """The assistant a command uses, and the in-process server behind it (None at --endpoint)."""

    assistant: MultimodalAssistant
    local: InProcessServer | None


def settings_of(args: argparse.Namespace) -> Settings:
    from outcrop.config import Settings

    return Settings.from_env(profile=getattr(args, "profile", None), models_file=getattr(args, "models", None),
                             cache_dir=getattr(args, "cache_dir", None), data_dir=getattr(args, "data_dir", None))


@contextmanager
def session(args: argparse.Namespace) -> Iterator[Session]:
    """An assistant at `args.endpoint`, or over the server's code in this process for the command's length."""
    from outcrop.sdk import MultimodalAssistant

    if getattr(args, "endpoint", None):
        yield Session(MultimodalAssistant(endpoint_url=args.endpoint), None)
        return
    from outcrop.cli.inprocess import InProcessServer

    with InProcessServer(settings_of(args)) as local:
        yield Session(MultimodalAssistant(client=local.client()), local)


def read_file(path: Path) -> bytes:
    from outcrop.cli import CliError

    if not path.is_file():
        raise CliError(f"no such file: {path}")
    return path.read_bytes()


def read_image(path: Path) -> bytes:
    """A PNG, JPEG, GIF or WebP file's bytes; anything else is the user's mistake, said in one line."""
    from outcrop.cli import CliError
    from outcrop.sdk.media import sniff_image_format

    if not path.is_file():
        raise CliError(f"no such image file: {path}")
    data = path.read_bytes()
    if sniff_image_format(data) is None:
        raise CliError(f"{path}: not a PNG, JPEG, GIF or WebP image")
    return data
