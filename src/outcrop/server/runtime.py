"""What the app serves with: settings, the model table and the engine pool, built once at start."""

from __future__ import annotations

from dataclasses import dataclass, field

from outcrop.config import Settings
from outcrop.engines.pool import EnginePool
from outcrop.registry import ModelTable, load_model_table
from outcrop.server.retries import RetryJoiner


@dataclass
class Runtime:
    settings: Settings
    table: ModelTable
    pool: EnginePool
    # Joins an SDK's retries of one call (server/retries.py): abandoned work is never run twice.
    retries: RetryJoiner = field(default_factory=RetryJoiner)

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        table = load_model_table(settings.resolved_profile, settings.models_file)
        return cls(settings=settings, table=table, pool=EnginePool(table, settings.cache_dir, load_wait_s=settings.load_wait_s))
