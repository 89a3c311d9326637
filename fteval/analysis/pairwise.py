"""Pairwise judging of two runs on the same examples: a judge target picks the better output, in both orders.

Each example is judged twice, with A's output first and then with B's first, which cancels the
judge's position bias; an example is a win for B when both orders prefer B, a loss when both prefer
A, and a tie otherwise (one each way, or a tie). How often the two orders disagree is reported: a
judge that mostly picks a position, not an answer, shows a high rate. Calls are recorded per example
and order (``fteval.running.calls``), cached, and not repeated when an interrupted judging is run again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fteval.analysis.comparetable import p_clause
from fteval.errors import UsageError
from fteval.identity import canonical_hash
from fteval.plugin import Prompt
from fteval.running.calls import CallSite, TargetCaller
from fteval.storage.records import ExampleRecord, RunRecord

if TYPE_CHECKING:
    from fteval.running.engine import Engine

__all__ = [
    "DEFAULT_PAIR_PATTERN",
    "DEFAULT_PAIR_RUBRIC",
    "PairVerdict",
    "PairwiseResult",
    "judge_pair",
    "summary_lines",
]

DEFAULT_PAIR_RUBRIC = """Which of two answers to the task is better?

Task input:
{{ input }}

Reference answer:
{{ reference }}

Answer 1:
{{ output_1 }}

Answer 2:
{{ output_2 }}

Reply with "Winner: 1", "Winner: 2" or "Winner: tie" and nothing else."""
DEFAULT_PAIR_PATTERN = r"(?i)(?:winner|answer|better)\D{0,20}?\b(1|2|tie)\b|^\s*(1|2|tie)\b"
PAIR_VARIABLES = frozenset({"input", "system", "reference", "output_1", "output_2"})
Choice = Literal["A", "B", "tie"]


@dataclass(frozen=True)
class PairVerdict:
    """One example: the judge's choice with A first and with B first (None: no verdict in the reply)."""

    idx: int
    a_first: Choice | None
    b_first: Choice | None
    replies: tuple[str, str]

    @property
    def outcome(self) -> Literal["win", "tie", "loss"] | None:
        """B's result over both orders; None when a reply had no verdict."""
        if self.a_first is None or self.b_first is None:
            return None
        if self.a_first == self.b_first == "B":
            return "win"
        if self.a_first == self.b_first == "A":
            return "loss"
        return "tie"


@dataclass(frozen=True)
class Rate:
    """A share with its Wilson 95% interval."""

    value: float
    ci_low: float
    ci_high: float
    count: int


@dataclass(frozen=True)
class PairwiseResult:
    """Win / tie / loss of B against A with CIs, the net preference, the order-disagreement rate and cost."""

    a: str
    b: str
    judge: str
    judge_fingerprint: str
    n: int
    judged: int
    win: Rate
    tie: Rate
    loss: Rate
    net: float
    net_ci: tuple[float, float]
    p_value: float
    order_disagreement: Rate
    first_position: Rate
    unparsed: int
    calls: int
    model_calls: int
    cost_usd: float | None
    judge_latency_s: float
    verdicts: list[PairVerdict] = field(default_factory=list)


def _rate(count: int, n: int) -> Rate:
    from fteval.analysis.stats import wilson_interval

    low, high = wilson_interval(count, n)
    return Rate(count / n if n else 0.0, low, high, count)


def _pattern(pattern: str) -> Any:
    import re2  # type: ignore[import-untyped]

    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise UsageError(f"--pattern: invalid regular expression (RE2 syntax): {exc}") from None


def _choice(pattern: Any, reply: str, first: Choice) -> Choice | None:
    """The reply's verdict as A / B / tie, given which run's output was shown first."""
    match = pattern.search(reply)
    if match is None:
        return None
    found = next((g for g in match.groups() if g is not None), None)
    if found is None:
        return None
    if found.lower() == "tie":
        return "tie"
    second: Choice = "B" if first == "A" else "A"
    return first if found == "1" else second


def _check_rubric(rubric: str) -> None:
    from fteval.spec.templates import check_template

    variables, problems = check_template(rubric)
    unknown = sorted(variables - PAIR_VARIABLES)
    if problems or unknown:
        why = "; ".join(problems) or f"it reads {', '.join(unknown)}; it can read {', '.join(sorted(PAIR_VARIABLES))}"
        raise UsageError(f"--rubric: {why}")


def _prompts(rubric: str, system: str | None, e: ExampleRecord, first: str, second: str) -> Prompt:
    from fteval.spec.templates import render

    variables = {
        "input": e.prompt.get("user", ""),
        "system": e.prompt.get("system") or "",
        "reference": e.gold,
        "output_1": first,
        "output_2": second,
    }
    return Prompt(system, render(rubric, variables, where="--rubric"))


def judge_pair(
    engine: Engine,
    a: RunRecord,
    b: RunRecord,
    judge: str,
    *,
    rubric: str = DEFAULT_PAIR_RUBRIC,
    system: str | None = None,
    pattern: str = DEFAULT_PAIR_PATTERN,
    limit: int | None = None,
) -> PairwiseResult:
    """Judge B against A on their common examples with the spec target ``judge``, in both orders.

    Raises:
        UsageError: a run is not complete, the runs differ in examples, the judge is not a target,
            or the rubric reads unknown variables.
    """
    import numpy as np

    from fteval.analysis.paired import mcnemar_exact, paired_mean_bootstrap

    for run in (a, b):
        if run.status != "complete":
            raise UsageError(f"run {run.id} is {run.status}, not complete: finish it first")
    if judge not in engine.spec.targets:
        raise UsageError(
            f"--judge {judge!r}: not a target of {engine.loaded.file}; its targets: {', '.join(engine.spec.targets)}"
        )
    _check_rubric(rubric)
    compiled = _pattern(pattern)
    ex_a, ex_b = engine.store.examples(a.id), engine.store.examples(b.id)
    by_b = {e.idx: e for e in ex_b}
    common = [
        e
        for e in ex_a
        if e.idx in by_b
        and canonical_hash([e.prompt, e.gold]) == canonical_hash([by_b[e.idx].prompt, by_b[e.idx].gold])
    ]
    if len(common) != len(ex_a) or len(common) != len(ex_b):
        raise UsageError(
            f"runs {a.id} and {b.id} were evaluated on different examples: judge runs of the same eval data"
        )
    common = common[:limit] if limit is not None else common
    step = "pairwise:" + canonical_hash([a.id, judge, rubric, system, pattern])[:12]
    prompts, sites = [], []
    for e in common:
        other = by_b[e.idx].output
        prompts += [_prompts(rubric, system, e, e.output, other), _prompts(rubric, system, e, other, e.output)]
        sites += [CallSite(b.id, e.idx, step, 0), CallSite(b.id, e.idx, step, 1)]
    caller = TargetCaller(engine, judge)
    try:
        calls = caller.calls(prompts, purpose="pairwise", sites=sites)
        fingerprint = caller.fingerprint
        model_calls = caller.model_calls
    finally:
        caller.close()
    verdicts = []
    for k, e in enumerate(common):
        first, second = calls[2 * k].generation.text, calls[2 * k + 1].generation.text
        verdicts.append(
            PairVerdict(e.idx, _choice(compiled, first, "A"), _choice(compiled, second, "B"), (first, second))
        )
    decided = [v for v in verdicts if v.outcome is not None]
    n = len(decided)
    wins = sum(v.outcome == "win" for v in decided)
    losses = sum(v.outcome == "loss" for v in decided)
    values = np.array([1.0 if v.outcome == "win" else -1.0 if v.outcome == "loss" else 0.0 for v in decided])
    boot = paired_mean_bootstrap(values) if n else None
    disagree = sum(v.a_first != v.b_first for v in decided)
    # the judge picked whichever output it was shown first, in both orders
    first_both = sum(v.a_first == "A" and v.b_first == "B" for v in decided)
    costs = [c.generation.cost_usd for c in calls if c.generation.cost_usd is not None]
    return PairwiseResult(
        a=a.id,
        b=b.id,
        judge=judge,
        judge_fingerprint=fingerprint,
        n=len(common),
        judged=n,
        win=_rate(wins, n),
        tie=_rate(n - wins - losses, n),
        loss=_rate(losses, n),
        net=float(values.mean()) if n else 0.0,
        net_ci=(boot.ci_low, boot.ci_high) if boot else (math.nan, math.nan),
        p_value=mcnemar_exact(wins, losses),
        order_disagreement=_rate(disagree, n),
        first_position=_rate(first_both, n),
        unparsed=len(common) - n,
        calls=len(calls),
        model_calls=model_calls,
        cost_usd=sum(costs) if costs else None,
        judge_latency_s=sum(c.generation.latency_s for c in calls) / len(calls) if calls else 0.0,
        verdicts=verdicts,
    )


def summary_lines(result: PairwiseResult, names: Sequence[str] = ()) -> list[str]:
    """The result as text lines (A and B named by ``names`` when given)."""
    a_name, b_name = (names[0], names[1]) if len(names) == 2 else (result.a, result.b)

    def pct(r: Rate) -> str:
        return f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] ({r.count})"

    cost = "n/a" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    return [
        f"B = {b_name} against A = {a_name}, judged by {result.judge} ({result.judge_fingerprint[:24]}) "
        f"in both orders on {result.n} examples ({result.unparsed} without a verdict in a reply, left out)",
        f"win  {pct(result.win)}",
        f"tie  {pct(result.tie)}",
        f"loss {pct(result.loss)}",
        f"net preference for B (win - loss): {result.net:+.3f} [{result.net_ci[0]:+.3f}, {result.net_ci[1]:+.3f}] "
        f"(sign test on wins vs losses, {p_clause(result.p_value)})",
        f"the two orders disagree on {pct(result.order_disagreement)} of judged examples; the judge chose the "
        f"first-shown output in both orders on {pct(result.first_position)}",
        f"judge calls: {result.calls} ({result.model_calls} made now, the rest recorded or cached), "
        f"cost {cost}, mean latency {result.judge_latency_s:.3f} s per call",
    ]
