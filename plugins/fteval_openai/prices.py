"""The default price table: USD per 1K tokens for training, input and output, per base model.

One file, dated; a target's ``cost:`` section overrides any of the three prices. Prices are those
published on openai.com/api/pricing on ``PRICES_DATE`` (fine-tuned models are billed at their base
model's fine-tuned inference rate).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRICES_DATE", "Price", "Rates", "context_limit", "price_for", "rates"]

PRICES_DATE = "2024-10-01"


@dataclass(frozen=True)
class Price:
    """USD per 1K tokens; ``inference`` prices are those of a model fine-tuned from the base."""

    training: float
    input: float
    output: float
    ft_input: float
    ft_output: float
    context: int  # most tokens in one training example


_TABLE: dict[str, Price] = {
    "gpt-3.5-turbo": Price(0.008, 0.0005, 0.0015, 0.003, 0.006, 16385),
    "gpt-4o-mini": Price(0.003, 0.00015, 0.0006, 0.0003, 0.0012, 65536),
    "gpt-4o": Price(0.025, 0.0025, 0.01, 0.00375, 0.015, 65536),
    "babbage-002": Price(0.0004, 0.0004, 0.0004, 0.0016, 0.0016, 16384),
    "davinci-002": Price(0.006, 0.002, 0.002, 0.012, 0.012, 16384),
}
_UNKNOWN = Price(0.0, 0.0, 0.0, 0.0, 0.0, 16385)


def _base(model: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` and dated snapshots map to their family."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    return max((k for k in _TABLE if name.startswith(k)), key=len, default=name)


def price_for(model: str) -> Price | None:
    """The table's prices for a model or its snapshot, or None for a model the table lacks."""
    return _TABLE.get(_base(model))


def context_limit(model: str) -> int:
    """Most tokens one training example may have (16,385 for unknown models)."""
    return (price_for(model) or _UNKNOWN).context


@dataclass(frozen=True)
class Rates:
    """The prices a target pays, USD per 1K tokens, and the date they were read."""

    training: float
    input: float
    output: float
    date: str

    def completion_cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one chat completion."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1000


def rates(
    model: str,
    *,
    fine_tuned: bool,
    training: float | None = None,
    input: float | None = None,
    output: float | None = None,
    date: str | None = None,
) -> Rates:
    """The table's prices for ``model`` with any overrides (``cost:`` of the spec) applied."""
    p = price_for(model) or _UNKNOWN
    overridden = any(v is not None for v in (training, input, output))
    return Rates(
        training=p.training if training is None else training,
        input=(p.ft_input if fine_tuned else p.input) if input is None else input,
        output=(p.ft_output if fine_tuned else p.output) if output is None else output,
        date=date or (f"{PRICES_DATE} (partly overridden)" if overridden else PRICES_DATE),
    )
