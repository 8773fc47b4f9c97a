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


def resolve_weights(entry: ModelEntry, cache_dir: Path, profile: str, *, download: bool = True) -> Path:
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
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = is_hub_offline() or not download
    try:
        return Path(snapshot_download(spec, revision=entry.revision, local_files_only=offline))
    except (LocalEntryNotFoundError, OSError) as exc:
        raise WeightsMissing(
            f"Model '{entry.model_id}' needs the weights {spec}"
            f"{'@' + entry.revision if entry.revision else ''}, which are not in the local cache"
            f"{' and the hub is offline' if offline else ''}. Fetch them with: outcrop pull --profile {profile}"
        ) from exc
