"""Compare two runs on the same examples: paired differences, significance, flips, power and a gate.

``compare_runs`` returns typed results and prints nothing; ``fteval.cli.compare_cmds`` renders them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fteval import registry
from fteval.analysis.paired import (
    connor_n,
    mcnemar_exact,
    mde_binary,
    mde_normal,
    n_for_difference,
    paired_bootstrap,
    paired_mean_bootstrap,
)
from fteval.analysis.stats import BOOTSTRAP_SAMPLES, point_estimates
from fteval.errors import PluginError, UsageError
from fteval.identity import canonical_hash
from fteval.plugin import Metric, Score
from fteval.storage.records import ExampleRecord, RunRecord
from fteval.storage.store import Store

__all__ = [
    "Comparison",
    "Flip",
    "Gate",
    "GateResult",
    "MetricComparison",
    "RunSummary",
    "compare_runs",
    "parse_gate",
]

GateStatus = Literal["passed", "failed", "inconclusive"]
DEFAULT_DETECT = (0.01, 0.02, 0.05)


@dataclass(frozen=True)
class Gate:
    """``--fail-if-worse METRIC[=MAX_DROP]``: fail when the metric drops by more than ``max_drop``, significantly."""

    metric: str
    max_drop: float = 0.0


def parse_gate(text: str) -> Gate:
    """Parse ``METRIC`` or ``METRIC=MAX_DROP``.

    Raises:
        UsageError: MAX_DROP is not a number >= 0.
    """
    name, sep, value = text.partition("=")
    if not name:
        raise UsageError(f"--fail-if-worse {text!r}: expected METRIC or METRIC=MAX_DROP")
    try:
        drop = float(value) if sep else 0.0
    except ValueError:
        raise UsageError(f"--fail-if-worse {text!r}: MAX_DROP must be a number, e.g. {name}=0.02") from None
    if drop < 0 or math.isnan(drop):
        raise UsageError(f"--fail-if-worse {text!r}: MAX_DROP must be >= 0")
    return Gate(name, drop)


@dataclass(frozen=True)
class RunSummary:
    """What a comparison says about each run."""

    id: str
    spec: str
    target: str
    label: str | None
    tags: tuple[str, ...]
    model: str
    n_examples: int

    @classmethod
    def of(cls, run: RunRecord) -> RunSummary:
        """The summary of a stored run."""
        return cls(run.id, run.spec_name, run.target, run.label, run.tags, run.model_fingerprint, run.n_examples)

    @property
    def name(self) -> str:
        """The id, with the label and tags when there are any."""
        names = [n for n in (self.label, *self.tags) if n]
        return f"{self.id} ({', '.join(dict.fromkeys(names))})" if names else self.id


@dataclass(frozen=True)
class MetricComparison:
    """One metric of A and B: values, the paired difference B - A with its CI, p-value and power."""

    metric: str
    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str  # "mcnemar-exact" (0/1 scores) or "paired-bootstrap"
    n: int
    binary: bool
    higher_is_better: bool
    method: str  # "mean" of per-example scores, or the metric's own "aggregate" re-run on resamples
    a_only: int | None  # 0/1 metrics: examples right in A, wrong in B
    b_only: int | None  # ... and wrong in A, right in B
    mde: float | None  # smallest difference detectable at this n, alpha and power (None: no variation seen)
    sigma: float | None  # SD of a per-example difference (effective, for planning)
    n_needed: dict[str, int | None] = field(default_factory=dict)  # difference -> examples needed

    @property
    def worse_by(self) -> float:
        """How much worse B is than A in the metric's direction (negative: B is better)."""
        return -self.difference if self.higher_is_better else self.difference


@dataclass(frozen=True)
class GateResult:
    """The verdict on one gated metric."""

    metric: str
    max_drop: float
    drop: float
    p_value: float
    status: GateStatus


@dataclass(frozen=True)
class Flip:
    """An example whose 0/1 score differs between A and B, with both outputs."""

    idx: int
    direction: Literal["right->wrong", "wrong->right"]
    prompt: dict[str, Any]
    gold: str
    output_a: str
    output_b: str


@dataclass(frozen=True)
class Comparison:
    """Everything ``fteval compare`` reports."""

    a: RunSummary
    b: RunSummary
    n: int
    alpha: float
    power: float
    seed: int
    samples: int
    metrics: list[MetricComparison]
    skipped: dict[str, str]
    gates: list[GateResult]
    flips_metric: str | None
    n_right_to_wrong: int
    n_wrong_to_right: int
    flips: list[Flip]

    @property
    def failed(self) -> bool:
        """Whether any gated metric failed."""
        return any(g.status == "failed" for g in self.gates)


def _example_key(example: ExampleRecord) -> str:
    return canonical_hash([example.prompt, example.gold])


def _check_same_examples(a: list[ExampleRecord], b: list[ExampleRecord]) -> None:
    keys_a = {e.idx: _example_key(e) for e in a}
    keys_b = {e.idx: _example_key(e) for e in b}
    differ = sum(keys_a.get(i) != keys_b.get(i) for i in keys_a.keys() | keys_b.keys())
    if differ:
        total = len(keys_a.keys() | keys_b.keys())
        raise UsageError(
            f"refusing to compare: the runs were evaluated on different examples ({differ} of {total} differ in "
            f"prompt or gold; A has {len(a)}, B has {len(b)}); compare runs of the same eval data"
        )


def _metric_order(a: RunRecord, b: RunRecord, names: set[str]) -> list[str]:
    listed = [m if isinstance(m, str) else m.get("name") for m in (b.spec.get("metrics") or [])]
    ordered = [m for m in listed if m in names]
    return ordered + sorted(names - set(ordered))


def _metric(run: RunRecord, name: str) -> Metric:
    cls = registry.load("metric", name)
    config = cls.Config.model_validate((run.config.get("metrics") or {}).get(name) or {})
    return cls(config)


def _compare_metric(
    name: str,
    metric: Metric,
    sa: list[Score],
    sb: list[Score],
    alpha: float,
    power: float,
    seed: int,
    samples: int,
    detect: Sequence[float],
) -> MetricComparison:
    import numpy as np

    n = len(sa)
    va = np.array([s.value for s in sa])
    vb = np.array([s.value for s in sb])
    own = type(metric).aggregate is not Metric.aggregate
    binary = not own and bool(np.all(np.isin(va, (0.0, 1.0))) and np.all(np.isin(vb, (0.0, 1.0))))
    if own:
        with point_estimates():
            value_a = metric.aggregate(sa, seed=seed).value
            value_b = metric.aggregate(sb, seed=seed).value

            def difference(idx: np.ndarray) -> float:
                return (
                    metric.aggregate([sb[i] for i in idx], seed=seed).value
                    - metric.aggregate([sa[i] for i in idx], seed=seed).value
                )

            boot = paired_bootstrap(n, difference, seed=seed, samples=samples)
    else:
        value_a, value_b = float(va.mean()) if n else 0.0, float(vb.mean()) if n else 0.0
        boot = paired_mean_bootstrap(vb - va, seed=seed, samples=samples)
    delta = value_b - value_a
    a_only = b_only = None
    if binary:
        a_only, b_only = int(np.sum((va == 1) & (vb == 0))), int(np.sum((va == 0) & (vb == 1)))
        discordance = (a_only + b_only) / n if n else 0.0
        p_value, test = mcnemar_exact(a_only, b_only), "mcnemar-exact"
        mde = mde_binary(n, discordance, alpha, power)
        sigma = math.sqrt(discordance) if discordance else None
        needed = {f"{d:g}": connor_n(d, discordance, alpha, power) for d in detect}
    else:
        p_value, test = boot.p_value, "paired-bootstrap"
        mde = mde_normal(boot.se, alpha, power)
        sigma = boot.se * math.sqrt(n) if boot.se > 0 else None
        needed = {f"{d:g}": n_for_difference(d, sigma or 0.0, alpha, power) for d in detect}
    return MetricComparison(
        metric=name,
        a=value_a,
        b=value_b,
        difference=delta,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        p_value=p_value,
        test=test,
        n=n,
        binary=binary,
        higher_is_better=type(metric).higher_is_better,
        method="aggregate" if own else "mean",
        a_only=a_only,
        b_only=b_only,
        mde=mde,
        sigma=sigma,
        n_needed=needed,
    )


def _gate(result: MetricComparison, gate: Gate, alpha: float) -> GateResult:
    drop = result.worse_by
    if drop <= gate.max_drop + 1e-12:
        status: GateStatus = "passed"
    else:
        status = "failed" if result.p_value < alpha else "inconclusive"
    return GateResult(gate.metric, gate.max_drop, drop, result.p_value, status)


def _flips(
    metric: str,
    higher_is_better: bool,
    a: list[ExampleRecord],
    b: list[ExampleRecord],
    limit: int,
) -> tuple[int, int, list[Flip]]:
    right_to_wrong: list[Flip] = []
    wrong_to_right: list[Flip] = []
    for ea, eb in zip(a, b, strict=True):
        ra, rb = ea.is_right(metric, higher_is_better), eb.is_right(metric, higher_is_better)
        if ra != rb:
            bucket = right_to_wrong if ra else wrong_to_right
            bucket.append(
                Flip(ea.idx, "right->wrong" if ra else "wrong->right", ea.prompt, ea.gold, ea.output, eb.output)
            )
    return len(right_to_wrong), len(wrong_to_right), right_to_wrong[:limit] + wrong_to_right[:limit]


def compare_runs(
    store: Store,
    a: RunRecord,
    b: RunRecord,
    *,
    gates: Sequence[Gate] = (),
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
    limit: int = 5,
    flips_metric: str | None = None,
    detect: Sequence[float] = DEFAULT_DETECT,
) -> Comparison:
    """Compare run B against run A (the baseline) example by example.

    Args:
        store: The run store holding both runs.
        a: The baseline run.
        b: The run under test.
        gates: Metrics that must not get significantly worse (by more than their ``max_drop``).
        alpha: Significance level of the gate and of the minimum detectable effect.
        power: Power for the minimum detectable effect and the sample-size advice.
        seed: Seed of the paired bootstrap.
        samples: Bootstrap resamples.
        limit: Most flipped examples listed per direction.
        flips_metric: The 0/1 metric whose flips are listed; default the first gated 0/1 metric, else
            the first 0/1 metric of the spec.
        detect: Differences for which to report the n needed.

    Returns:
        The typed comparison.

    Raises:
        UsageError: A and B are one run, a run is not complete, the runs were evaluated on different examples, or a
            gated or flips metric is not a metric of both runs.
    """
    if a.id == b.id:
        raise UsageError(
            f"A and B are the same run {a.id}: a run compared with itself shows no difference."
            " Name two runs (latest~1 latest, a tag and latest, two labels)"
        )
    for run, which in ((a, "A"), (b, "B")):
        if run.status != "complete":
            raise UsageError(
                f"run {which} {run.id} is {run.status}, not complete; finish it (the same command resumes it) first"
            )
    ex_a, ex_b = store.examples(a.id), store.examples(b.id)
    _check_same_examples(ex_a, ex_b)
    in_a = set.intersection(*(set(e.scores) for e in ex_a)) if ex_a else set()
    in_b = set.intersection(*(set(e.scores) for e in ex_b)) if ex_b else set()
    common = in_a & in_b
    skipped = {m: "only in A" for m in in_a - in_b} | {m: "only in B" for m in in_b - in_a}
    for gate in gates:
        if gate.metric not in common:
            raise UsageError(
                f"--fail-if-worse {gate.metric!r}: not a metric of both runs; they share: {', '.join(sorted(common))}"
            )
    results: list[MetricComparison] = []
    for name in _metric_order(a, b, common):
        try:
            metric = _metric(b, name)
        except PluginError as exc:
            skipped[name] = f"metric plugin unavailable: {exc}"
            continue
        try:
            sa = [e.scores[name] for e in ex_a]
            sb = [e.scores[name] for e in ex_b]
            results.append(_compare_metric(name, metric, sa, sb, alpha, power, seed, samples, detect))
        finally:
            metric.close()
    by_name = {r.metric: r for r in results}
    for gate in gates:
        if gate.metric not in by_name:
            raise UsageError(f"--fail-if-worse {gate.metric!r}: cannot compare it ({skipped[gate.metric]})")
    gate_results = [_gate(by_name[g.metric], g, alpha) for g in gates]
    if flips_metric is not None and (flips_metric not in by_name or not by_name[flips_metric].binary):
        raise UsageError(f"--flips {flips_metric!r}: not a 0/1 metric of both runs")
    if flips_metric is None:
        binary = [g.metric for g in gates if g.metric in by_name and by_name[g.metric].binary]
        binary += [r.metric for r in results if r.binary]
        flips_metric = binary[0] if binary else None
    n_rw = n_wr = 0
    flips: list[Flip] = []
    if flips_metric is not None:
        n_rw, n_wr, flips = _flips(flips_metric, by_name[flips_metric].higher_is_better, ex_a, ex_b, limit)
    return Comparison(
        a=RunSummary.of(a),
        b=RunSummary.of(b),
        n=len(ex_a),
        alpha=alpha,
        power=power,
        seed=seed,
        samples=samples,
        metrics=results,
        skipped=skipped,
        gates=gate_results,
        flips_metric=flips_metric,
        n_right_to_wrong=n_rw,
        n_wrong_to_right=n_wr,
        flips=flips,
    )
