"""Estimated cost of the same calls on Amazon Bedrock, and the per-assistant usage tally.

PRICES holds Bedrock's on-demand list prices in USD (us-east-1) at the time of writing; they may
be stale (AWS changes prices, and regions and batch/provisioned modes differ). Replace or extend
them per assistant with `MultimodalAssistant(prices={...})`. outcrop itself costs nothing: the
estimate answers "what would this workload cost on Bedrock".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from outcrop.sdk.models import base_model_id
from outcrop.sdk.results import Usage


@dataclass(frozen=True)
class TokenPrice:
    """USD per 1,000 input and output tokens."""

    input_per_1k: float
    output_per_1k: float


@dataclass(frozen=True)
class ImagePrice:
    """USD per generated image: standard or premium quality, at most `small_max_pixels` or larger."""

    standard: float
    premium: float
    large_standard: float | None = None
    large_premium: float | None = None
    small_max_pixels: int = 1024 * 1024


@dataclass(frozen=True)
class EmbeddingPrice:
    """USD per 1,000 input text tokens and per input image."""

    text_per_1k: float
    per_image: float


Price = TokenPrice | ImagePrice | EmbeddingPrice

_SONNET = TokenPrice(0.003, 0.015)
_OPUS = TokenPrice(0.015, 0.075)
PRICES: dict[str, Price] = {
    "stability.stable-diffusion-xl-v1": ImagePrice(standard=0.04, premium=0.08),  # premium: > 50 steps
    "amazon.titan-image-generator-v1": ImagePrice(0.008, 0.01, 0.01, 0.012, small_max_pixels=512 * 512),
    "amazon.titan-image-generator-v2:0": ImagePrice(0.008, 0.01, 0.01, 0.012, small_max_pixels=512 * 512),
    "amazon.nova-canvas-v1:0": ImagePrice(0.04, 0.06, 0.06, 0.08, small_max_pixels=1024 * 1024),
    "amazon.titan-embed-image-v1": EmbeddingPrice(text_per_1k=0.0008, per_image=0.00006),
    "anthropic.claude-3-haiku-20240307-v1:0": TokenPrice(0.00025, 0.00125),
    "anthropic.claude-3-sonnet-20240229-v1:0": _SONNET,
    "anthropic.claude-3-opus-20240229-v1:0": _OPUS,
    "anthropic.claude-3-5-sonnet-20240620-v1:0": _SONNET,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": _SONNET,
    "anthropic.claude-3-5-haiku-20241022-v1:0": TokenPrice(0.0008, 0.004),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": _SONNET,
    "anthropic.claude-sonnet-4-20250514-v1:0": _SONNET,
    "anthropic.claude-sonnet-4-5-20250929-v1:0": _SONNET,
    "anthropic.claude-opus-4-20250514-v1:0": _OPUS,
    "anthropic.claude-opus-4-1-20250805-v1:0": _OPUS,
    "anthropic.claude-haiku-4-5-20251001-v1:0": TokenPrice(0.001, 0.005),
    "amazon.nova-lite-v1:0": TokenPrice(0.00006, 0.00024),
    "amazon.nova-pro-v1:0": TokenPrice(0.0008, 0.0032),
    "amazon.nova-premier-v1:0": TokenPrice(0.0025, 0.0125),
}


def find_price(prices: Mapping[str, Price], model_id: str) -> Price | None:
    """The price of a model id in any spelling (ARN, `us.` prefix, with or without `:0`)."""
    base = base_model_id(model_id)
    for key in (model_id, base, base.split(":")[0], f"{base}:0"):
        if key in prices:
            return prices[key]
    return None


def estimate(price: Price | None, usage: Usage, *, pixels: int = 0, premium: bool = False) -> float | None:
    """USD for one call's usage at `price`; None when the model has no price (so a total can say
    which calls it could not count rather than pretending they were free)."""
    if price is None:
        return None
    if isinstance(price, TokenPrice):
        return usage.input_tokens / 1000 * price.input_per_1k + usage.output_tokens / 1000 * price.output_per_1k
    if isinstance(price, EmbeddingPrice):
        return usage.input_tokens / 1000 * price.text_per_1k + usage.input_images * price.per_image
    large = pixels > price.small_max_pixels and price.large_standard is not None
    if large:
        each = (price.large_premium or price.large_standard) if premium else price.large_standard
    else:
        each = price.premium if premium else price.standard
    return usage.images * float(each or 0.0)


@dataclass
class ModelTally:
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    estimated_cost_usd: float = 0.0
    unpriced_calls: int = 0


class UsageTally:
    """Usage and estimated Bedrock cost of every call an assistant made, per model and in total.
    Thread-safe: one assistant may be shared by several threads."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = dict(prices)
        self._lock = threading.Lock()
        self._by_model: dict[str, ModelTally] = {}

    def record(self, model_id: str, usage: Usage, *, pixels: int = 0, premium: bool = False) -> float | None:
        """Adds one call; returns its estimated cost (None when the model has no price)."""
        cost = estimate(find_price(self.prices, model_id), usage, pixels=pixels, premium=premium)
        with self._lock:
            entry = self._by_model.setdefault(model_id, ModelTally())
            entry.calls += 1
            entry.usage = entry.usage + usage
            if cost is None:
                entry.unpriced_calls += 1
            else:
                entry.estimated_cost_usd += cost
        return cost

    @property
    def by_model(self) -> dict[str, ModelTally]:
        with self._lock:
            return {k: ModelTally(v.calls, v.usage, v.estimated_cost_usd, v.unpriced_calls) for k, v in self._by_model.items()}

    @property
    def total(self) -> Usage:
        return sum((t.usage for t in self.by_model.values()), Usage())

    @property
    def calls(self) -> int:
        return sum(t.calls for t in self.by_model.values())

    @property
    def estimated_cost_usd(self) -> float:
        return sum(t.estimated_cost_usd for t in self.by_model.values())

    def reset(self) -> None:
        with self._lock:
            self._by_model.clear()
