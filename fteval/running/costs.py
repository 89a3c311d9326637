"""Cost per question: computed from a generation's token counts and the target's prices, every time.

A cached answer carries the tokens it took; what they cost is a matter of today's prices, never of
the cache. An unknown price or token count makes the cost unknown (None), never $0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fteval.plugin import Generation, TokenPrices

__all__ = ["known_prices", "price_line", "priced", "unknown_price"]


def priced(generation: Generation, prices: TokenPrices | None) -> Generation:
    """``generation`` with its cost computed from its tokens and ``prices`` (unchanged when ``prices`` is None)."""
    if prices is None:
        return generation
    return dataclasses.replace(generation, cost_usd=prices.cost(generation.prompt_tokens, generation.completion_tokens))


def unknown_price(prices: TokenPrices | Mapping[str, Any]) -> str:
    """Why costs are unknown, and how to make them known."""
    model = prices.model if isinstance(prices, TokenPrices) else prices.get("model")
    return (
        f"no price for {model} (not in the price table): its cost is unknown;"
        " set cost.input_per_1k and cost.output_per_1k (and cost.date, cost.source) in the target"
    )


def known_prices(prices: Mapping[str, Any]) -> bool:
    """Whether a run's stored prices (``TokenPrices.as_dict``) are both known."""
    return prices.get("input_per_1k") is not None and prices.get("output_per_1k") is not None


def price_line(prices: Mapping[str, Any]) -> str:
    """A run's prices as one line: ``prices of M: $I / $O per 1K tokens (in/out), as of D, from S``."""
    if not known_prices(prices):
        return unknown_price(prices)
    inp, out = prices["input_per_1k"], prices["output_per_1k"]
    when = f", as of {prices['date']}" if prices.get("date") else ", undated"
    where = f", from {prices['source']}" if prices.get("source") else ""
    return f"prices of {prices.get('model')}: ${inp:g} / ${out:g} per 1K tokens (prompt / completion){when}{where}"
