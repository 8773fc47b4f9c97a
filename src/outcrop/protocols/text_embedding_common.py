"""What the text embedding body families (Titan Text V2, Cohere Embed) share: sizing a text against
the protocol's published token limit and the serving model's window, and the quantised forms of a
float vector (Titan's and Cohere's `binary`, Cohere's `int8`/`uint8`/`ubinary`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from outcrop.errors import ValidationException
from outcrop.tasks.text_embedding import Side, TextEmbedder


def sized_text(engine: TextEmbedder, text: str, limit: int, truncate: Side | None, prompt_name: str | None,
               too_long: Callable[[int], ValidationException], model_id: str) -> tuple[str, int]:
    """(`text`, cut if asked, and its token count as sent). Over the family's `limit` with no
    truncation: the family's own error (`too_long`). Within it but over what the serving model
    reads: a truncation where asked, else a clear refusal (never a silent cut)."""
    tokens = engine.count_tokens(text)
    window = engine.max_tokens - engine.overhead(prompt_name)
    if tokens > limit and truncate is None:
        raise too_long(tokens)
    if tokens > window and truncate is None:
        raise ValidationException(
            f"The text is {tokens} tokens long; the model that serves {model_id} on this server reads at most "
            f"{window} tokens. Shorten the text, or ask for truncation."
        )
    keep = min(limit, window)
    if tokens > keep:
        assert truncate is not None
        text = engine.clip(text, keep, truncate)
    return text, tokens


def check_dimensions(engine: TextEmbedder, dimensions: int, field: str, model_id: str) -> None:
    if dimensions > engine.native_dim:
        raise ValidationException(
            f"{field} {dimensions} is not available here: the model that serves {model_id} on this server produces "
            f"{engine.native_dim}-dimensional embeddings."
        )


def as_binary_bits(vector: list[float]) -> list[int]:
    """One 0/1 per dimension: 1 where the value is positive (Titan Text V2's `binary`)."""
    return [int(bit) for bit in np.asarray(vector) > 0]


def quantised(vector: list[float], kind: str) -> list[float] | list[int]:
    """Cohere's embedding types of one float vector. `binary`/`ubinary`: the signs packed 8 to a
    byte, most significant bit first, as uint8 (`ubinary`) or that minus 128 as int8 (`binary`), so
    a vector of d dimensions gives d/8 values. `int8`/`uint8`: the vector scaled by its largest
    magnitude onto -128..127 / 0..255 (Cohere does not publish its calibration; this one is fixed
    and per vector, so a vector's codes never depend on the other inputs of a request)."""
    if kind == "float":
        return vector
    values = np.asarray(vector, dtype=np.float64)
    if kind in ("binary", "ubinary"):
        packed = np.packbits(values > 0)
        return [int(b) - 128 for b in packed] if kind == "binary" else [int(b) for b in packed]
    scale = float(np.max(np.abs(values))) or 1.0
    unit = values / scale  # -1..1
    if kind == "int8":
        return [int(q) for q in np.clip(np.round(unit * 127.5 - 0.5), -128, 127)]
    return [int(q) for q in np.clip(np.round((unit + 1) * 127.5), 0, 255)]
