"""The openai plugins' ``fteval plan`` hooks: tokens as the service bills them, training and evaluation cost."""

from __future__ import annotations

from fteval.plugin import Estimate, Example, PlanInput, TokenCounter
from fteval_openai.config import OpenAIConfig
from fteval_openai.prices import Rates, context_limit, rates

__all__ = ["eval_estimate", "token_counter", "train_estimate"]


def token_counter() -> TokenCounter | None:
    """Tokens counted with tiktoken, training examples as the chat lines a job uploads; None without tiktoken."""
    from fteval_openai.datacheck import training_record
    from fteval_openai.tokens import ENCODING, count_messages, count_text, encoding

    try:
        encoding()
    except ImportError:
        return None

    def train_example(example: Example) -> int:
        return count_messages(training_record(example)["messages"])

    return TokenCounter(
        f"tiktoken {ENCODING}", lambda p: count_messages(p.messages()), count_text, train_example=train_example
    )


def _rates(config: OpenAIConfig, work: PlanInput) -> Rates:
    cost = config.cost
    return rates(
        config.model.name,
        fine_tuned=work.trains,
        training=cost.training_per_1k,
        input=cost.input_per_1k,
        output=cost.output_per_1k,
        date=cost.date,
        source=cost.source,
    )


def train_estimate(config: OpenAIConfig, work: PlanInput) -> Estimate:
    """Epochs (the service's default when auto), billed tokens after ``max_train_tokens``, and their cost."""
    from fteval_openai.datacheck import default_epochs, fit_budget

    out = Estimate()
    per_row, model, train = list(work.train_rows), config.model.name, config.train
    if not work.trains or not per_row:
        return out
    epochs = train.epochs or default_epochs(len(per_row))
    out.epochs = float(epochs)
    limit = context_limit(model)
    long = sum(n > limit for n in per_row)
    if long:
        out.warnings.append(f"{long} train row(s) over {model}'s {limit:,}-token example limit: the job would fail")
    budget = train.max_train_tokens
    keep = fit_budget(per_row, epochs, budget, train.seed if train.seed is not None else work.seed)
    if len(keep) < len(per_row):
        out.warnings.append(
            f"max_train_tokens {budget:,} drops {len(per_row) - len(keep):,} of {len(per_row):,} train rows "
            f"({sum(per_row) * epochs:,} tokens x epochs before the cut)"
        )
    out.train_tokens = sum(per_row[i] for i in keep) * epochs
    out.train_cost_usd = _rates(config, work).training_cost(out.train_tokens)
    return out


def eval_estimate(config: OpenAIConfig, work: PlanInput) -> Estimate:
    """The prices (fine-tuned rates for a target that trains), what they leave unknown, and the eval split's cost."""
    rate, model = _rates(config, work), config.model.name
    out = Estimate(prices=rate.token_prices())
    if (work.trains and rate.training is None) or not rate.known:
        out.warnings.append(
            f"{model} has no price (not in the price table, and the spec's cost: does not set it):"
            " its costs are unknown; set cost.training_per_1k, cost.input_per_1k, cost.output_per_1k"
        )
    out.notes.append(f"prices: USD per 1K tokens as of {rate.date or 'an unknown date'}, from {rate.source or '-'}")
    # The gold targets' length stands in for the outputs'.
    out.eval_cost_usd = rate.completion_cost(work.eval_prompt_tokens, work.eval_target_tokens)
    return out
