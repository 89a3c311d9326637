"""``fteval plan SPEC``: rows, tokens, training time and cost per target, before anything is spent.

Every figure is an estimate, and the plugins make it through the contract's planning hooks: the
trainer's ``token_counter`` (the OpenAI plugin counts with tiktoken, what the service bills; the
default is characters / 4) and ``estimate`` (epochs, tokens, time, cost), and the generator's
``estimate`` (evaluation cost and the prices of a call). Trainers without them get rows and tokens only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fteval.plugin import Estimate, Example, PlanInput, Prompt, TokenCounter
from fteval.running.engine import render_examples
from fteval.spec.loader import LoadedSpec, ResolvedTarget

__all__ = ["SplitTokens", "TargetPlan", "plan_spec"]

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
    train_time_is_bound: bool = False
    train_cost_usd: float | None = None
    eval_cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Per-step estimates of a pipeline target (``fteval.running.pipeplan.StepEstimate``), per question.
    steps: list[Any] = field(default_factory=list)


def _rough(text: str) -> int:
    return -(-len(text) // 4)


#: What counts tokens for a target whose trainer names no counter.
CHARS_4 = TokenCounter("chars/4 estimate", lambda p: sum(_rough(m["content"]) for m in p.messages()), _rough)


def _counter(target: ResolvedTarget) -> TokenCounter:
    """The target trainer's token counter, else characters / 4."""
    return target.trainer(target.config).token_counter() or CHARS_4


def _counted(
    target: ResolvedTarget, examples: Mapping[str, Sequence[Example]]
) -> tuple[TokenCounter, dict[str, SplitTokens], list[str]]:
    """The trainer's counter and each split's tokens; chars / 4 with a warning when the counter raises."""
    try:
        counter = _counter(target)
        return counter, {s: _count(ex, counter) for s, ex in examples.items() if ex}, []
    except Exception as exc:  # a plugin bug must not hide the other plans
        warning = f"the trainer's token counter failed: {type(exc).__name__}: {exc}; counted characters / 4 instead"
        return CHARS_4, {s: _count(ex, CHARS_4) for s, ex in examples.items() if ex}, [warning]


def _count(examples: Sequence[Example], counter: TokenCounter) -> SplitTokens:
    return SplitTokens(
        len(examples), sum(counter.prompt(e.prompt) for e in examples), sum(counter.text(e.target) for e in examples)
    )


def _train_row_tokens(examples: Sequence[Example], counter: TokenCounter) -> tuple[int, ...]:
    """Tokens of each training example: as the trainer sends it, else prompt + target."""
    if counter.train_example is not None:
        return tuple(counter.train_example(e) for e in examples)
    return tuple(counter.prompt(e.prompt) + counter.text(e.target) for e in examples)


def _shared_prompt_tokens(examples: Sequence[Example]) -> int:
    """Estimated tokens at the start of every training prompt (system + user text), as chars / 4."""
    texts = ["\n".join(m["content"] for m in e.prompt.messages()) for e in examples]
    if len(texts) < 2:
        return 0
    first, last = min(texts), max(texts)  # the common prefix of all is that of the extremes
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    return n // 4


def _guarded(kind: str, call: Callable[[], Estimate]) -> Estimate:
    """A plugin's estimate; one that raises gets a warning instead (a plugin bug must not hide the other plans)."""
    try:
        return call()
    except Exception as exc:
        return Estimate(warnings=[f"the {kind}'s estimate failed: {type(exc).__name__}: {exc}"])


def _estimates(target: ResolvedTarget, work: PlanInput) -> tuple[Estimate, Estimate]:
    """The trainer's and the generator's estimates."""
    return (
        _guarded("trainer", lambda: target.trainer(target.config).estimate(work)),
        _guarded("generator", lambda: target.generator().estimate(target.config, work)),
    )


def _plan_input(
    target: ResolvedTarget, per_row: tuple[int, ...], ev: SplitTokens | None, shared: int, seed: int
) -> PlanInput:
    return PlanInput(
        train_rows=per_row,
        eval_rows=ev.rows if ev else 0,
        eval_prompt_tokens=ev.prompt if ev else 0,
        eval_target_tokens=ev.target if ev else 0,
        shared_prompt_tokens=shared,
        trains=not target.spec.evaluator_only,
        seed=seed,
    )


def _call_cost(loaded: LoadedSpec, name: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD of one call to target ``name``, from its generator's prices; None when it bills no tokens."""
    target = loaded.targets[name]
    work = _plan_input(target, (), None, 0, loaded.spec.seed)
    prices = _estimates(target, work)[1].prices
    return prices.cost(prompt_tokens, completion_tokens) if prices is not None else None


def _plan_pipeline(
    plan: TargetPlan, loaded: LoadedSpec, name: str, examples: Mapping[str, Sequence[Example]], counter: TokenCounter
) -> None:
    """Calls, tokens and cost per question of a pipeline target (``fteval.running.pipeplan``)."""
    from fteval.running.pipeplan import estimate_pipeline

    def count(prompt: Prompt) -> int:
        return counter.prompt(prompt)

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
        counter, splits, counter_warnings = _counted(target, examples)
        plan = TargetPlan(name, target.spec.trainer, counter.name, splits)
        plan.warnings += counter_warnings
        if target.spec.evaluator_only:
            plan.notes.append("evaluator_only: no training")
        per_row = _train_row_tokens(examples["train"], counter) if not target.spec.evaluator_only else ()
        work = _plan_input(target, per_row, splits.get("eval"), shared, loaded.spec.seed)
        trained, evaluated = _estimates(target, work)
        plan.epochs, plan.train_tokens = trained.epochs, trained.train_tokens
        plan.train_time_s, plan.train_cost_usd = trained.train_time_s, trained.train_cost_usd
        plan.train_time_is_bound = trained.train_time_is_bound
        plan.eval_cost_usd = evaluated.eval_cost_usd
        plan.notes += evaluated.notes + trained.notes
        plan.warnings += evaluated.warnings + trained.warnings
        if target.spec.pipeline is not None:
            _plan_pipeline(plan, loaded, name, examples, counter)
        plans.append(plan)
    return plans
