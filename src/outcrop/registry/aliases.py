"""How Bedrock spells one model many ways: ARNs, inference-profile prefixes, `:N` version suffixes."""

from __future__ import annotations

import re
from functools import lru_cache

from outcrop.errors import ValidationException

# Geographic and global cross-region inference-profile prefixes.
PROFILE_PREFIXES = ("us-gov.", "us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.")
_FOUNDATION_ARN = re.compile(r"^arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(?:[0-9]{12})?:(?:foundation-model|inference-profile)/(.+)$")
_VERSION_SUFFIX = re.compile(r"^(.+?)(:\d+)$")


@lru_cache(maxsize=4)
def _model_id_pattern(shape: str) -> re.Pattern[str]:
    """The modelId pattern of botocore's service model (botocore does not check it; Bedrock does)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return re.compile(model.shape_for(shape).metadata["pattern"])


def validate_model_id(model_id: str, shape: str = "InvokeModelIdentifier") -> None:
    """Reject ids Bedrock's front door rejects, with its `1 validation error detected` wording."""
    pattern = _model_id_pattern(shape)
    if not 1 <= len(model_id) <= 2048 or not pattern.fullmatch(model_id):
        raise ValidationException(
            f"1 validation error detected: Value '{model_id}' at 'modelId' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )


def candidate_ids(model_id: str) -> list[str]:
    """Ids to try in the table, most specific first: as given, ARN unwrapped, prefix and suffix stripped."""
    seen: list[str] = []

    def add(candidate: str) -> None:
        if candidate and candidate not in seen:
            seen.append(candidate)

    add(model_id)
    arn = _FOUNDATION_ARN.match(model_id)
    bare = arn.group(1) if arn else model_id
    add(bare)
    for prefix in PROFILE_PREFIXES:
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            add(bare)
            break
    suffix = _VERSION_SUFFIX.match(bare)
    if suffix:
        add(suffix.group(1))
    return seen
