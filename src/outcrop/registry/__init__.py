"""The model table: Bedrock model ids (and their aliases) → protocol, engine and weights."""

from outcrop.registry.model_table import ModelEntry, ModelTable, load_model_table

__all__ = ["ModelEntry", "ModelTable", "load_model_table"]
