"""The default price table: USD per 1K tokens for training, input and output, per base model.

Each entry carries the date its prices were read and where (``source``); a target's ``cost:``
section overrides any price. A model the table lacks has unknown prices, and so unknown costs
(None, never $0), until the spec gives them. Fine-tuned models (``ft:<base>:...``) are billed at
their base model's fine-tuned inference rates.
"""

from __future__ import annotations

from dataclasses import dataclass

from fteval.plugin import TokenPrices

__all__ = ["PRICES_DATE", "PRICES_SOURCE", "Price", "Rates", "context_limit", "is_fine_tuned", "price_for", "rates"]

PRICES_DATE = "2024-10-01"  # the date of the newest entry below
PRICES_SOURCE = "https://openai.com/api/pricing"
_DEFAULT_CONTEXT = 16385


@dataclass(frozen=True)
class Price:
    """USD per 1K tokens of one base model; ``ft_*`` are the prices of a model fine-tuned from it."""

    training: float
    input: float
    output: float
    ft_input: float
    ft_output: float
    context: int  # most tokens in one training example
    date: str = PRICES_DATE
    source: str = PRICES_SOURCE


_TABLE: dict[str, Price] = {
    "gpt-3.5-turbo": Price(0.008, 0.0005, 0.0015, 0.003, 0.006, 16385),
    "gpt-4o-mini": Price(0.003, 0.00015, 0.0006, 0.0003, 0.0012, 65536),
    "gpt-4o": Price(0.025, 0.0025, 0.01, 0.00375, 0.015, 65536),
    "babbage-002": Price(0.0004, 0.0004, 0.0004, 0.0016, 0.0016, 16384),
    "davinci-002": Price(0.006, 0.002, 0.002, 0.012, 0.012, 16384),
}


def _base(model: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` and dated snapshots map to their family."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    return max((k for k in _TABLE if name.startswith(k)), key=len, default=name)


def price_for(model: str) -> Price | None:
    """The table's prices for a model or its snapshot, or None for a model the table lacks."""
    return _TABLE.get(_base(model))


def is_fine_tuned(model: str, base: str) -> bool:
    """Whether ``model`` (what a request names) is a fine-tune: an ``ft:`` id, or another model than the base."""
    return model.startswith("ft:") or model != base


def context_limit(model: str) -> int:
    """Most tokens one training example may have (16,385 for unknown models)."""
    price = price_for(model)
    return price.context if price is not None else _DEFAULT_CONTEXT


@dataclass(frozen=True)
class Rates:
    """The prices a target pays, USD per 1K tokens (None: unknown), and when and where they were read."""

    model: str
    training: float | None
    input: float | None
    output: float | None
    date: str | None
    source: str

    @property
    def known(self) -> bool:
        """Whether both inference prices are known."""
        return self.input is not None and self.output is not None

    def token_prices(self) -> TokenPrices:
        """The inference prices in the plugin contract's form."""
        return TokenPrices(self.model, self.input, self.output, self.date, self.source)

    def completion_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for one chat completion (or a split's worth); None when a price is unknown."""
        return self.token_prices().cost(prompt_tokens, completion_tokens)

    def training_cost(self, tokens: int) -> float | None:
        """USD for ``tokens`` billed training tokens; None when the price is unknown."""
        return None if self.training is None else tokens * self.training / 1000


def rates(
    model: str,
    *,
    fine_tuned: bool,
    training: float | None = None,
    input: float | None = None,
    output: float | None = None,
    date: str | None = None,
    source: str | None = None,
) -> Rates:
    """The table's prices for ``model`` with any overrides (``cost:`` of the spec) applied; unknown ones None."""
    p = price_for(model)
    overridden = [v is not None for v in (training, input, output)]
    table_date = p.date if p is not None else None
    # A price the spec sets has no date unless the spec gives one; the table's date covers the rest.
    if date is None and not any(overridden):
        date = table_date
    elif date is None and table_date and not all(overridden):
        date = f"{table_date} (partly overridden)"
    table_source = p.source if p is not None else ""
    if source is None:
        source = table_source if not any(overridden) else "spec cost:" + (f" + {table_source}" if table_source else "")
    return Rates(
        model=model,
        training=(p.training if p is not None else None) if training is None else training,
        input=(p.ft_input if fine_tuned else p.input) if p is not None and input is None else input,
        output=(p.ft_output if fine_tuned else p.output) if p is not None and output is None else output,
        date=date,
        source=source,
    )
