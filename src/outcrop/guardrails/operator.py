"""Operator guardrails: `outcrop serve --guardrails FILE`, a TOML or YAML file of guardrails in the
CreateGuardrail shape, loaded at start-up and read-only (UpdateGuardrail, DeleteGuardrail and
CreateGuardrailVersion refuse them; change the file and restart).

    [[guardrails]]                     # YAML: guardrails: [{id: ..., name: ..., ...}]
    id = "corpsafety"                  # optional; else derived from the name, stable across restarts
    name = "corp-safety"
    blockedInputMessaging = "..."
    blockedOutputsMessaging = "..."
    [guardrails.contentPolicyConfig]
    filtersConfig = [{ type = "HATE", inputStrength = "HIGH", outputStrength = "HIGH" }]

Each guardrail answers as DRAFT and as version 1 (one immutable version: the file). A file that
does not parse, or a guardrail Bedrock would refuse, fails start-up with a message naming the file
and the line."""

from __future__ import annotations

import hashlib
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from outcrop.errors import BedrockError
from outcrop.guardrails.control import ACCOUNT_ID, DEFAULT_REGION, check_spec
from outcrop.guardrails.store import StoredGuardrail
from outcrop.guardrails.wire import CreateGuardrailRequest, GuardrailSpec, validation_message

_ID = re.compile(r"[a-z0-9]{1,64}")
_TOML_ENTRY = re.compile(r"^\s*\[\[\s*guardrails\s*\]\]")


class GuardrailFileError(ValueError):
    """A --guardrails file that cannot be served: the message names the file and line."""


def _stable_id(name: str) -> str:
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = ""
    for _ in range(12):
        digest, r = divmod(digest, 36)
        out += alphabet[r]
    return out


def _parse(path: Path) -> tuple[list[Any], list[int | None]]:
    """The file's guardrail entries and the line each starts on (None where unknown)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GuardrailFileError(f"{path}: cannot read the guardrails file: {exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise GuardrailFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
        lines: list[int | None] = []
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if key.value == "guardrails" and isinstance(value, yaml.SequenceNode):
                    lines = [item.start_mark.line + 1 for item in value.value]
    else:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"at line (\d+)", str(exc))
            where = f"{path}:{match.group(1)}" if match else str(path)
            raise GuardrailFileError(f"{where}: not valid TOML: {exc}") from None
        lines = [i + 1 for i, line in enumerate(text.splitlines()) if _TOML_ENTRY.match(line)]
    if not isinstance(document, dict) or not isinstance(document.get("guardrails"), list):
        raise GuardrailFileError(f"{path}:1: the file must hold a `guardrails` list of guardrails in the "
                                 "CreateGuardrail shape.")
    entries = document["guardrails"]
    return entries, [lines[i] if i < len(lines) else None for i in range(len(entries))]


def load(path: Path, region: str = DEFAULT_REGION) -> dict[str, StoredGuardrail]:
    """The file's guardrails by id, each validated as CreateGuardrail validates a request."""
    entries, lines = _parse(path)
    out: dict[str, StoredGuardrail] = {}
    names: set[str] = set()
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)  # the file is the guardrails' last change
    stamp = modified.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for i, entry in enumerate(entries):
        where = f"{path}:{lines[i]}" if lines[i] else str(path)
        if not isinstance(entry, dict):
            raise GuardrailFileError(f"{where}: guardrail {i + 1} must be a table of CreateGuardrail members.")
        entry = dict(entry)
        given = entry.pop("id", None)
        try:
            request = CreateGuardrailRequest.model_validate(entry, strict=True)
            check_spec(request)
        except ValidationError as exc:
            raise GuardrailFileError(f"{where}: guardrail {i + 1}: "
                                     f"{validation_message(exc.errors(include_url=False))}") from None
        except BedrockError as exc:
            raise GuardrailFileError(f"{where}: guardrail {i + 1}: {exc}") from None
        guardrail_id = given if given is not None else _stable_id(request.name)
        if not isinstance(guardrail_id, str) or not _ID.fullmatch(guardrail_id):
            raise GuardrailFileError(f"{where}: guardrail {i + 1}: id must be 1 to 64 lowercase letters and digits.")
        if guardrail_id in out or request.name in names:
            raise GuardrailFileError(f"{where}: guardrail {i + 1}: the id {guardrail_id} or name {request.name} "
                                     "is used by another guardrail of the file.")
        names.add(request.name)
        spec = request.model_dump(exclude_none=True, include=set(GuardrailSpec.model_fields))
        arn = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:guardrail/{guardrail_id}"
        out[guardrail_id] = StoredGuardrail(guardrail_id, arn, "DRAFT", spec, stamp, stamp, spec.get("description"))
    return out
