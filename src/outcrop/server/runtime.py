"""What the app serves with: settings, the model table and the engine pool, built once at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    async def chat_engine(self, model_id: str, wait_s: float | None = None) -> Any:
        """The engine behind `model_id` when its protocol supports Converse (the `InvokeContext.chat_engine`
        accessor); a configured id that is missing or not a chat model is the deployment's error."""
        from outcrop.errors import ModelErrorException, ValidationException
        from outcrop.protocols import get_protocol
        from outcrop.protocols.base import CONVERSE

        try:
            entry = self.table.resolve(model_id)
        except ValidationException:  # the table's answer to an id it does not serve
            entry = None
        if entry is None or CONVERSE not in get_protocol(entry.protocol).operations:
            raise ModelErrorException(f"This deployment's helper model '{model_id}' is not a chat model it serves.",
                                      originalStatusCode=500, resourceName=model_id)
        return await self.pool.get(entry, wait_s=wait_s)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        table = load_model_table(settings.resolved_profile, settings.models_file)
        return cls(settings=settings, table=table, pool=EnginePool(table, settings.cache_dir, load_wait_s=settings.load_wait_s))
