"""Where an entry's weights live: a builtin tiny model, a local folder, or a Hugging Face repo."""

from __future__ import annotations

import os
from pathlib import Path

from outcrop.errors import ResourceNotFoundException
from outcrop.registry import ModelEntry


class WeightsMissing(ResourceNotFoundException):
    """Weights not on disk and not fetchable now; the message names the command that fetches them."""


def is_hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_weights(entry: ModelEntry, cache_dir: Path, profile: str | None, *, download: bool = True) -> Path:
    """A local folder with the entry's weights; downloads (with a progress bar) when allowed."""
    spec = entry.weights
    if spec.startswith("builtin:"):
        from outcrop.testing.builtin import materialize

        return materialize(spec.removeprefix("builtin:"), cache_dir)
    local = Path(spec).expanduser()
    if local.is_absolute() or spec.startswith((".", "~")):
        if not local.is_dir():
            raise WeightsMissing(f"Model '{entry.model_id}' points at weights folder {local}, which does not exist.")
        return local
    return fetch_repo(spec, entry.revision, model_id=entry.model_id, profile=profile, download=download)


def fetch_repo(repo: str, revision: str | None, *, model_id: str, profile: str | None, download: bool = True) -> Path:
    """A Hugging Face repo's local snapshot, downloaded when allowed, else a clear WeightsMissing."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = is_hub_offline() or not download
    try:
        return Path(snapshot_download(repo, revision=revision, local_files_only=offline))
    except (LocalEntryNotFoundError, OSError) as exc:
        raise WeightsMissing(
            f"Model '{model_id}' needs the weights {repo}{'@' + revision if revision else ''}, which are not in "
            f"the local cache{' and the hub is offline' if offline else ''}. "
            f"Fetch them with: outcrop pull --profile {profile or '<the profile you serve>'}"
        ) from exc


def companion_weights(entry: ModelEntry) -> list[str]:
    """Hub repos an entry's engine loads beside its main weights (ControlNets, segmenters, ...)."""
    from outcrop.engines import engine_class

    return engine_class(entry.engine).companion_repos(entry)
