"""A report as typed data, read from the run store: one row per run, curves, breakdowns, examples, comparisons.

``build_report`` reads and computes; ``markdown`` and ``html`` only render what it returns.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fteval.analysis.breakdowns import run_breakdowns
from fteval.analysis.primary import primary_metric
from fteval.analysis.summary import metric_order, model_name, version_line
from fteval.errors import UsageError
from fteval.plugin import Breakdown
from fteval.running.costs import price_line
from fteval.storage.callstore import StepStats, step_stats
from fteval.storage.records import AggregateRecord, ExampleRecord, RunRecord
from fteval.storage.store import Store

if TYPE_CHECKING:
    from fteval.analysis.compare import Comparison
    from fteval.ratings.summary import SheetSummary

__all__ = ["Curve", "Report", "RunReport", "RunRow", "build_report", "percentile", "reference_run", "worst_examples"]


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values (nearest rank, as ``fteval show``); None when empty."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass(frozen=True)
class RunRow:
    """One line of the main table: a run's metrics with CIs, costs, latency and provenance."""

    run: RunRecord
    metrics: dict[str, AggregateRecord]
    n: int
    train_cost_usd: float | None
    train_wall_s: float | None
    trained_tokens: int | None
    cost_per_question: float | None
    latency_p50: float | None
    latency_p95: float | None
    parse_rate: float | None
    model: str
    versions: str
    name: str  # the target, "(baseline)", the label; the run id too when two rows would read the same
    cost_unknown: bool = False  # priced per token, but some question's price or token counts are unknown


@dataclass(frozen=True)
class Curve:
    """One training curve of a run's job (``loss``, ``eval_loss``)."""

    name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class RunReport:
    """Everything a report shows about one run."""

    row: RunRow
    primary: str | None
    higher_is_better: bool
    curves: list[Curve]
    breakdowns: list[Breakdown]
    breakdown_error: str | None
    examples: list[ExampleRecord]
    #: Per-step statistics of a pipeline run (``fteval.storage.callstore``); empty for a one-call-per-question target.
    steps: list[StepStats] = field(default_factory=list)

    def wrong(self, example: ExampleRecord) -> bool:
        """Whether an example failed to parse or is not right on the primary metric (``ExampleRecord.is_right``)."""
        if not example.parse_ok:
            return True
        return self.primary is not None and example.is_right(self.primary, self.higher_is_better) is False


def _name_of(runs: Sequence[RunReport], run_id: str) -> str:
    return next((r.row.name for r in runs if r.row.run.id == run_id), run_id)


@dataclass(frozen=True)
class Report:
    """A report of one or more runs; ``comparisons``: each other run paired with the reference run (A)."""

    runs: list[RunReport]
    metrics: list[str]
    created_at: float
    comparisons: list[Comparison] = field(default_factory=list)
    comparison_notes: list[str] = field(default_factory=list)  # runs that could not be paired, and why
    notes: list[str] = field(default_factory=list)
    ratings: list[SheetSummary] = field(default_factory=list)  # human ratings of these runs (fteval rate)

    def name_of(self, run_id: str) -> str:
        """A run's name as the main table shows it (target, label; the id when two would read the same)."""
        return _name_of(self.runs, run_id)

    def flips_of(self, run_id: str) -> dict[int, str]:
        """Example index -> 'right->wrong' / 'wrong->right' for a run: against the reference, or (for the
        reference itself) against the one run it was compared with; empty otherwise."""
        for cmp in self.comparisons:
            if cmp.b.id == run_id or (cmp.a.id == run_id and len(self.comparisons) == 1):
                return {f.idx: f.direction for f in cmp.flips}
        return {}


def _row(store: Store, run: RunRecord, examples: list[ExampleRecord]) -> RunRow:
    job = store.job_by_id(run.job_id) if run.job_id else None
    stats = job.stats if job is not None else {}
    latencies = sorted(e.latency_s for e in examples if e.latency_s is not None)
    costs = [e.cost_usd for e in examples if e.cost_usd is not None]
    # A run priced per token with any question of unknown cost has an unknown mean, never a partial one.
    cost_unknown = run.prices is not None and len(costs) < len(examples)

    def number(key: str) -> float | None:
        value = stats.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    tokens = number("trained_tokens")
    return RunRow(
        run=run,
        metrics={a.metric: a for a in store.aggregates(run.id)},
        n=len(examples),
        train_cost_usd=number("cost_usd"),
        train_wall_s=number("wall_s"),
        trained_tokens=int(tokens) if tokens is not None else None,
        cost_per_question=sum(costs) / len(examples) if costs and examples and not cost_unknown else None,
        latency_p50=percentile(latencies, 0.5),
        latency_p95=percentile(latencies, 0.95),
        parse_rate=sum(e.parse_ok for e in examples) / len(examples) if examples else None,
        model=model_name(run),
        versions=version_line(run),
        name=run.display_target + (f" [{run.label}]" if run.label else ""),
        cost_unknown=cost_unknown,
    )


def _curves(store: Store, run: RunRecord) -> list[Curve]:
    if not run.job_id:
        return []
    series: dict[str, list[tuple[int, float]]] = {}
    for point in store.job_curve(run.job_id):
        if "loss" in point.name:
            series.setdefault(point.name, []).append((point.step, point.value))
    return [Curve(name, tuple(s for s, _ in pts), tuple(v for _, v in pts)) for name, pts in sorted(series.items())]


def run_report(store: Store, run: RunRecord) -> RunReport:
    """Read one run's row, curves, breakdowns and examples."""
    examples = store.examples(run.id)
    primary = primary_metric(run, store.aggregates(run.id), examples)
    breakdowns, error = run_breakdowns(run, examples)
    return RunReport(
        row=_row(store, run, examples),
        primary=primary.name,
        higher_is_better=primary.higher_is_better,
        curves=_curves(store, run),
        breakdowns=breakdowns,
        breakdown_error=error,
        examples=examples,
        steps=step_stats(store, run.id),
    )


def worst_examples(report: RunReport, limit: int) -> list[ExampleRecord]:
    """Up to ``limit`` wrong examples: parse failures first, then the lowest primary score, by index."""

    def badness(e: ExampleRecord) -> tuple[int, float, int]:
        score = e.scores.get(report.primary or "")
        value = score.value if score is not None else 1.0
        return (0 if not e.parse_ok else 1, value if report.higher_is_better else -value, e.idx)

    return sorted((e for e in report.examples if report.wrong(e)), key=badness)[:limit]


def reference_run(runs: Sequence[RunRecord], ref: RunRecord | None = None) -> RunRecord:
    """The run others are compared with: ``ref`` if given, else the first baseline run, else the first run."""
    return ref or next((r for r in runs if r.is_baseline), runs[0])


def build_report(
    store: Store, runs: Sequence[RunRecord], *, compare: bool = True, reference: RunRecord | None = None
) -> Report:
    """Read the given runs into a report; with two or more runs, each is paired with the reference run.

    Args:
        store: The run store.
        runs: The runs, in the order they are shown (a baseline first reads best).
        compare: Whether to compare runs (``fteval.analysis.compare``: paired CIs, McNemar, flips).
        reference: The run every other run is compared with (A); default: the first baseline run,
            else the first run.

    Returns:
        The typed report.

    Raises:
        UsageError: no runs, or a reference that is not one of the runs.
    """
    if not runs:
        raise UsageError("nothing to report: name runs or specs with runs in the store")
    if reference is not None and reference.id not in {r.id for r in runs}:
        raise UsageError(f"the reference run {reference.id} is not one of the runs reported")
    reports = [run_report(store, run) for run in runs]
    seen = Counter(r.row.name for r in reports)
    reports = [
        replace(r, row=replace(r.row, name=f"{r.row.name} · {r.row.run.id}")) if seen[r.row.name] > 1 else r
        for r in reports
    ]
    names: list[str] = []
    for r in reports:
        names += [m for m in metric_order(r.row.run, list(r.row.metrics.values())) if m not in names]
    comparisons: list[Comparison] = []
    comparison_notes: list[str] = []
    if compare and len(runs) >= 2:
        from fteval.analysis.compare import compare_runs  # numpy, only when comparing

        a = reference_run(runs, reference)
        for b in runs:
            if b.id == a.id:
                continue
            try:
                comparisons.append(compare_runs(store, a, b, limit=100_000))
            except UsageError as exc:
                against = f"{_name_of(reports, b.id)} against {_name_of(reports, a.id)}"
                comparison_notes.append(f"{against}: no paired comparison: {exc}")
    notes = [f"{r.row.run.id}: {r.breakdown_error}" for r in reports if r.breakdown_error]
    notes += [f"{r.row.name}: {price_line(r.row.run.prices)}" for r in reports if r.row.run.prices is not None]
    from fteval.ratings.summary import rating_summaries  # numpy, only here

    ratings = rating_summaries(store, [r.id for r in runs])
    return Report(reports, names, time.time(), comparisons, comparison_notes, notes, ratings)
