"""``fteval plan SPEC``: rows, tokens, training time and cost per target, before anything is spent.

Every figure is an estimate. Tokens are counted with the OpenAI plugin's tiktoken counter for
OpenAI targets (what the service bills) and as characters / 4 otherwise. Known plugin configs
(hf, openai) are read defensively by attribute; other trainers get rows and tokens only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fteval.engine import render_examples
from fteval.loader import LoadedSpec, ResolvedTarget
from fteval.plugin import Example, Prompt

__all__ = ["HF_TINY_TOKENS_PER_S", "SplitTokens", "TargetPlan", "plan_spec"]

#: Training throughput of the tiny scratch preset on CPU, measured by benchmarks/train_throughput.py
#: (README, "Measured"): the only local figure fteval has, so hf time estimates scale from it.
HF_TINY_TOKENS_PER_S = 5252
#: Fewest shared tokens for which the hf trainer's ``shared_prefix: auto`` computes the prefix once
#: (fteval_hf.prefix_cache.MIN_SHARED_PREFIX; not imported: planning must not import torch).
MIN_SHARED_PREFIX_TOKENS = 8
SPLITS = ("train", "valid", "eval")


@dataclass(frozen=True)
class SplitTokens:
    """One split's size: rows, prompt tokens and target (completion) tokens."""

    rows: int
    prompt: int
    target: int


@dataclass
class TargetPlan:
    """What one target will process and (roughly) cost."""

    name: str
    trainer: str
    counter: str
    splits: dict[str, SplitTokens]
    epochs: float | None = None
    train_tokens: int | None = None  # tokens x epochs
    train_time_s: float | None = None
    train_cost_usd: float | None = None
    eval_cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per-step estimates of a pipeline target (``fteval.pipeplan.StepEstimate``), per question.
    steps: list[Any] = field(default_factory=list)


def _openai_module(name: str) -> Any:
    """A module of the OpenAI plugin (imported by name: core code does not depend on the plugin).

    Raises:
        ImportError: the plugin (or tiktoken) is not installed.
    """
    return importlib.import_module(f"fteval_openai.{name}")


def _rough(text: str) -> int:
    return -(-len(text) // 4)


def _counters(openai: bool) -> tuple[str, Callable[[Example], int], Callable[[str], int]]:
    """(description, prompt tokens of an example, tokens of a text)."""
    if openai:
        try:
            tokens = _openai_module("tokens")
            return (
                f"tiktoken {tokens.ENCODING}",
                lambda e: tokens.count_messages(e.prompt.messages()),
                tokens.count_text,
            )
        except ImportError:
            pass
    return "chars/4 estimate", lambda e: sum(_rough(m["content"]) for m in e.prompt.messages()), _rough


def _is_openai(target: ResolvedTarget) -> bool:
    return type(target.config).__module__.startswith("fteval_openai")


def _is_hf(target: ResolvedTarget) -> bool:
    return type(target.config).__module__.startswith("fteval_hf")


def _count(examples: Sequence[Example], prompt: Callable[[Example], int], text: Callable[[str], int]) -> SplitTokens:
    return SplitTokens(len(examples), sum(prompt(e) for e in examples), sum(text(e.target) for e in examples))


def _train_row_tokens(
    examples: Sequence[Example], openai: bool, prompt: Callable[[Example], int], text: Callable[[str], int]
) -> list[int]:
    """Tokens of each training example: as the OpenAI plugin bills its chat lines, else prompt + target."""
    if openai:
        try:
            record, count = _openai_module("datacheck").training_record, _openai_module("tokens").count_messages
            return [count(record(e)["messages"]) for e in examples]
        except ImportError:
            pass
    return [prompt(e) + text(e.target) for e in examples]


def _shared_prompt_tokens(examples: Sequence[Example]) -> int:
    """Estimated tokens at the start of every training prompt (system + user text), as chars / 4."""
    texts = ["\n".join(m["content"] for m in e.prompt.messages()) for e in examples]
    if len(texts) < 2:
        return 0
    first, last = min(texts), max(texts)  # the common prefix of all is that of the extremes
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    return n // 4


def _computed_tokens(plan: TargetPlan, train: Any, rows: int, tokens: int, epochs: float, shared: int) -> int:
    """Of ``tokens`` trained, those the trainer computes: the shared prompt prefix once per batch when
    ``shared_prefix`` is used (said in a note)."""
    mode = getattr(train, "shared_prefix", "off")
    if mode == "off" or (mode == "auto" and shared < MIN_SHARED_PREFIX_TOKENS):
        return tokens
    batch = max(1, getattr(train, "batch_size", 32))
    saved = round((rows - -(-rows // batch)) * shared * epochs)  # every row of a batch but its first
    plan.notes.append(
        f"shared prefix: ~{shared:,} prompt tokens every row starts with are computed once per batch of {batch}"
        f" (~{saved / max(tokens, 1):.0%} of the tokens; the time below counts the computed ones)"
    )
    return max(tokens - saved, 0)


def _plan_hf(plan: TargetPlan, target: ResolvedTarget, per_row: list[int], shared: int) -> None:
    cfg = target.config
    train = getattr(cfg, "train", None)
    rows = len(per_row)
    if train is None or not rows:
        return
    max_steps = getattr(train, "max_steps", None)
    if max_steps:
        plan.epochs = max_steps * getattr(train, "batch_size", 32) * getattr(train, "grad_accum", 1) / rows
    else:
        plan.epochs = float(train.num_epochs) if hasattr(train, "num_epochs") else 3.0
    max_len = getattr(train, "max_seq_len", None)
    if max_len:
        long = sum(n > max_len for n in per_row)
        if long:
            plan.warnings.append(f"{long} train row(s) over max_seq_len {max_len} (estimated): cut at the end")
    plan.train_tokens = round(sum(min(n, max_len or n) for n in per_row) * plan.epochs)
    preset = getattr(getattr(cfg, "model", None), "preset", None)
    computed = _computed_tokens(plan, train, rows, plan.train_tokens, plan.epochs, shared)
    plan.train_time_s = computed / HF_TINY_TOKENS_PER_S
    plan.notes.append(
        f"training time: a lower bound at {HF_TINY_TOKENS_PER_S:,} tokens/s, measured for the tiny preset on 2 idle CPU"
        " cores (README 'Benchmarks'); start-up (imports, tokenizer training, evaluation, saving) and per-step"
        " overhead are not included and dominate small data sets (a 200-row run took 121 s against a 3 s bound)"
        + ("" if preset == "tiny" else "; this model is larger, expect it to take longer")
    )
    cost = getattr(cfg, "cost", None)
    hourly = max(getattr(cost, "cpu_hour_usd", 0.0), getattr(cost, "gpu_hour_usd", 0.0)) if cost else 0.0
    if hourly:
        plan.train_cost_usd = plan.train_time_s / 3600 * hourly


def _plan_openai(plan: TargetPlan, target: ResolvedTarget, per_row: list[int], seed: int) -> None:
    check, prices = _openai_module("datacheck"), _openai_module("prices")
    default_epochs, fit_budget = check.default_epochs, check.fit_budget
    PRICES_DATE, context_limit, price_for, rates = (
        prices.PRICES_DATE,
        prices.context_limit,
        prices.price_for,
        prices.rates,
    )  # noqa: N806

    cfg: Any = target.config
    model = cfg.model.name
    cost = cfg.cost
    tuned = not target.spec.evaluator_only
    rate = rates(
        model,
        fine_tuned=tuned,
        training=cost.training_per_1k,
        input=cost.input_per_1k,
        output=cost.output_per_1k,
        date=cost.date,
    )
    if price_for(model) is None and cost.training_per_1k is None:
        plan.warnings.append(f"{model} is not in the price table ({PRICES_DATE}): costs shown as 0; set cost:")
    plan.notes.append(f"prices: USD per 1K tokens as of {rate.date}")
    if tuned and per_row:
        epochs = cfg.train.epochs or default_epochs(len(per_row))
        plan.epochs = float(epochs)
        limit = context_limit(model)
        long = sum(n > limit for n in per_row)
        if long:
            plan.warnings.append(
                f"{long} train row(s) over {model}'s {limit:,}-token example limit: the job would fail"
            )
        budget = cfg.train.max_train_tokens
        keep = fit_budget(per_row, epochs, budget, cfg.train.seed if cfg.train.seed is not None else seed)
        if len(keep) < len(per_row):
            plan.warnings.append(
                f"max_train_tokens {budget:,} drops {len(per_row) - len(keep):,} of {len(per_row):,} train rows "
                f"({sum(per_row) * epochs:,} tokens x epochs before the cut)"
            )
        plan.train_tokens = sum(per_row[i] for i in keep) * epochs
        plan.train_cost_usd = plan.train_tokens * rate.training / 1000
    ev = plan.splits.get("eval")
    if ev is not None:
        # The gold targets' length stands in for the outputs'.
        plan.eval_cost_usd = rate.completion_cost(ev.prompt, ev.target)


def _call_cost(loaded: LoadedSpec, name: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD of one call to target ``name`` (OpenAI targets, from the plugin's price table); None otherwise."""
    target = loaded.targets[name]
    if not _is_openai(target):
        return None
    try:
        prices = _openai_module("prices")
    except ImportError:
        return None
    cfg: Any = target.config
    rate = prices.rates(
        cfg.model.name,
        fine_tuned=not target.spec.evaluator_only,
        training=cfg.cost.training_per_1k,
        input=cfg.cost.input_per_1k,
        output=cfg.cost.output_per_1k,
        date=cfg.cost.date,
    )
    cost: float = rate.completion_cost(prompt_tokens, completion_tokens)
    return cost


def _plan_pipeline(plan: TargetPlan, loaded: LoadedSpec, name: str, examples: Mapping[str, Sequence[Example]]) -> None:
    """Calls, tokens and cost per question of a pipeline target (``fteval.pipeplan``)."""
    from fteval.pipeplan import estimate_pipeline  # noqa: PLC0415

    def count(prompt: Prompt) -> int:
        return _counters(_is_openai(loaded.targets[name]))[1](Example(0, {}, prompt, ""))

    plan.steps = estimate_pipeline(
        loaded, name, examples["eval"], examples["train"], count, lambda t, p, c: _call_cost(loaded, t, p, c)
    )
    costs = [s.cost_usd for s in plan.steps]
    rows = len(examples["eval"])
    plan.eval_cost_usd = sum(c for c in costs if c is not None) * rows if any(c is not None for c in costs) else None
    plan.notes.append(
        "pipeline: prompts rendered per row with the gold answer standing in for earlier steps' outputs;"
        " outputs counted as max_new_tokens and conditional steps as always running (upper bounds)"
    )


def plan_spec(loaded: LoadedSpec, targets: Sequence[str] = ()) -> list[TargetPlan]:
    """A plan for each target of ``loaded`` (or those named): split sizes, tokens, time and cost."""
    examples = {split: render_examples(loaded, split) for split in SPLITS}
    shared = _shared_prompt_tokens(examples["train"])  # the same rendered prompts for every target
    plans = []
    for name, target in loaded.targets.items():
        if targets and name not in targets:
            continue
        openai = _is_openai(target)
        counter, prompt_tokens, text_tokens = _counters(openai)
        splits = {s: _count(ex, prompt_tokens, text_tokens) for s, ex in examples.items() if ex}
        plan = TargetPlan(name, target.spec.trainer, counter, splits)
        per_row = _train_row_tokens(examples["train"], openai, prompt_tokens, text_tokens)
        if target.spec.evaluator_only:
            plan.notes.append("evaluator_only: no training")
        if openai:
            _plan_openai(plan, target, per_row, loaded.spec.seed)
        elif _is_hf(target) and not target.spec.evaluator_only:
            _plan_hf(plan, target, per_row, shared)
        if target.spec.pipeline is not None:
            _plan_pipeline(plan, loaded, name, examples)
        plans.append(plan)
    return plans
