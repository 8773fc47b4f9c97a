"""Load the profile's TOML model table (plus a user's `--models` overrides) and resolve ids."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from outcrop.errors import INVALID_MODEL_ID, ValidationException
from outcrop.registry.aliases import candidate_ids

logger = logging.getLogger(__name__)

_ENGINE_KEYS = {"engine", "weights", "revision", "dtype", "device", "options", "protocol_options"}
_ENTRY_KEYS = _ENGINE_KEYS | {"protocol", "aliases", "uses"}
# A profile's `[guardrails]` table: `judge` names the chat model the guardrails' judge uses by default,
# `judge_images` (true/false) whether it also looks at guarded images.
_GUARDRAIL_KEYS = {"judge", "judge_images"}


@dataclass(frozen=True)
class ModelEntry:
    """One served Bedrock model id. Entries with the same engine spec share one loaded engine."""

    model_id: str
    protocol: str
    engine: str
    weights: str
    revision: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    aliases: tuple[str, ...] = ()
    # The engine's options (they key engine sharing) and the protocol's (they never load another engine).
    options: tuple[tuple[str, Any], ...] = ()
    protocol_options: tuple[tuple[str, Any], ...] = ()
    # Where the entry was defined, for errors at start-up.
    source: str = field(default="", compare=False)

    @property
    def engine_key(self) -> tuple[Any, ...]:
        return (self.engine, self.weights, self.revision, self.dtype, self.device, self.options)


@dataclass
class ModelTable:
    profile: str
    entries: dict[str, ModelEntry] = field(default_factory=dict)
    # The profile's default guardrail judge (a chat model id it serves), "" for none.
    guardrail_judge: str = ""
    # Whether that judge also looks at guarded images (guardrails/judge.py).
    guardrail_judge_images: bool = False
    _aliases: dict[str, str] = field(default_factory=dict)

    def add(self, entry: ModelEntry) -> None:
        self.entries[entry.model_id] = entry
        for alias in entry.aliases:
            self._aliases[alias] = entry.model_id

    def resolve(self, model_id: str) -> ModelEntry:
        """The entry serving `model_id` under any of Bedrock's spellings, else Bedrock's invalid-id error."""
        for candidate in candidate_ids(model_id):
            key = self._aliases.get(candidate, candidate)
            if key in self.entries:
                return self.entries[key]
        raise ValidationException(INVALID_MODEL_ID)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries.values())


def _entries_from_toml(data: dict[str, Any], source: str, engines: dict[str, dict[str, Any]]) -> list[ModelEntry]:
    """Model entries of one TOML document. An entry may name a shared engine spec with `uses`
    (an `[engines.NAME]` table of any file of the profile); its own keys override the spec's and its
    `options` are merged over the spec's, so ids served by one engine say so once."""
    entries = []
    for model_id, spec in data.get("models", {}).items():
        unknown = set(spec) - _ENTRY_KEYS
        if unknown:
            raise ValueError(f"{source}: model {model_id!r} has unknown keys {sorted(unknown)}")
        if "uses" in spec:
            if spec["uses"] not in engines:
                raise ValueError(f"{source}: model {model_id!r} uses unknown engine spec {spec['uses']!r}")
            shared = engines[spec["uses"]]
            spec = {**shared, **spec, "options": {**shared.get("options", {}), **spec.get("options", {})},
                    "protocol_options": {**shared.get("protocol_options", {}), **spec.get("protocol_options", {})}}
        for required in ("protocol", "engine", "weights"):
            if required not in spec:
                raise ValueError(f"{source}: model {model_id!r} needs `{required}`")
        entries.append(
            ModelEntry(
                model_id=model_id,
                protocol=spec["protocol"],
                engine=spec["engine"],
                weights=str(spec["weights"]),
                revision=spec.get("revision"),
                dtype=spec.get("dtype", "auto"),
                device=spec.get("device", "auto"),
                aliases=tuple(spec.get("aliases", ())),
                options=_frozen_table(spec.get("options", {})),
                protocol_options=_frozen_table(spec.get("protocol_options", {})),
                source=source,
            )
        )
    return entries


def _engine_specs(data: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = data.get("engines", {})
    for name, spec in specs.items():
        unknown = set(spec) - _ENGINE_KEYS
        if unknown:
            raise ValueError(f"{source}: engine spec {name!r} has unknown keys {sorted(unknown)}")
    return specs


def _frozen_table(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _frozen(v)) for k, v in values.items()))


def _frozen(value: Any) -> Any:
    """Option values become hashable (lists → tuples), so entries can key the engine pool."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def profile_files(profile: str) -> list[tuple[str, str]]:
    """(name, text) of every TOML file shipped for `profile`, one file per model family."""
    folder = resources.files("outcrop.registry") / "profiles" / profile
    if not folder.is_dir():
        raise ValueError(f"no such profile: {profile!r}")
    return sorted((f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".toml"))


def load_model_table(profile: str, models_file: Path | None = None) -> ModelTable:
    """The profile's table, with entries of `models_file` replacing or adding to it. The user's file
    may define its own `[engines.NAME]` specs and use the profile's."""
    table = ModelTable(profile=profile)
    documents = [(f"profile {profile}/{name}", tomllib.loads(text)) for name, text in profile_files(profile)]
    if models_file is not None:
        documents.append((str(models_file), tomllib.loads(Path(models_file).read_text(encoding="utf-8"))))
    engines: dict[str, dict[str, Any]] = {}
    for source, data in documents:
        engines.update(_engine_specs(data, source))
        guardrails = data.get("guardrails", {})
        if unknown := set(guardrails) - _GUARDRAIL_KEYS:
            raise ValueError(f"{source}: [guardrails] has unknown keys {sorted(unknown)}")
        table.guardrail_judge = str(guardrails.get("judge", table.guardrail_judge))
        judge_images = guardrails.get("judge_images", table.guardrail_judge_images)
        if not isinstance(judge_images, bool):
            raise ValueError(f"{source}: [guardrails] judge_images must be true or false, not {judge_images!r}")
        table.guardrail_judge_images = judge_images
    for source, data in documents:
        for entry in _entries_from_toml(data, source, engines):
            table.add(entry)
    if models_file is not None:
        logger.info("model overrides from %s applied", models_file)
    return table
