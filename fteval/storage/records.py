"""Typed records read back from the run store, with JSON columns decoded.

The CLI, summaries, compare and reports read these, never raw rows. Field order is part of the
format; a new field is appended with a default and the store's schema version goes up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fteval.plugin import ModelHandle, Score

__all__ = [
    "AggregateRecord",
    "CurvePoint",
    "ExampleRecord",
    "ExportRecord",
    "JobRecord",
    "NewRun",
    "RunRecord",
    "RunTotals",
]


@dataclass(frozen=True)
class NewRun:
    """What ``Store.create_run`` writes for a new run: what runs, on which model, with which settings."""

    run_key: str
    spec_name: str
    spec_hash: str
    spec: dict[str, Any]  # the resolved spec, credentials redacted
    target: str
    trainer: str
    generator: str
    model_fingerprint: str
    generation: dict[str, Any]
    config: dict[str, Any]
    versions: dict[str, Any]
    seed: int
    n_examples: int
    is_baseline: bool = False
    job_id: str | None = None
    skipped_rows: int = 0
    model_location: str | None = None
    model_identity: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One evaluation run: what ran (resolved spec, model, settings, versions) and its status."""

    id: str
    run_key: str
    spec_name: str
    spec_hash: str
    spec: dict[str, Any]
    target: str
    trainer: str
    generator: str
    is_baseline: bool
    job_id: str | None
    model_fingerprint: str
    generation: dict[str, Any]
    config: dict[str, Any]
    versions: dict[str, Any]
    seed: int
    n_examples: int
    status: str
    started_at: float
    finished_at: float | None
    n_done: int = 0
    skipped_rows: int = 0
    model_location: str | None = None
    model_identity: str | None = None
    pid: int | None = None
    host: str | None = None
    label: str | None = None
    tags: tuple[str, ...] = ()
    prices: dict[str, Any] | None = None  # per-token prices its costs were computed with (TokenPrices.as_dict)

    @property
    def display_target(self) -> str:
        """The target name, marked when it is a baseline."""
        return f"{self.target} (baseline)" if self.is_baseline else self.target


@dataclass(frozen=True)
class ExampleRecord:
    """One evaluated example, as written to and read from the store; ``scores`` maps metric name to its score."""

    idx: int
    prompt: dict[str, Any]
    gold: str
    output: str
    parse_ok: bool
    parsed: Any
    parse_error: str | None
    latency_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    cached: bool
    scores: dict[str, Score] = field(default_factory=dict)
    queue_s: float | None = None  # waited in the generator before the request (latency_s: the request)

    def is_right(self, metric: str, higher_is_better: bool) -> bool | None:
        """Whether the example is right on ``metric``: a perfect score in its direction; None when not scored on it.

        Scores lie in [0, 1]: right is 1 when higher is better, 0 when lower is (``Metric.higher_is_better``).
        ``fteval show --wrong``, the report's wrong examples and compare's flips all ask this.
        """
        score = self.scores.get(metric)
        if score is None:
            return None
        return score.value >= 1.0 if higher_is_better else score.value <= 0.0


@dataclass(frozen=True)
class JobRecord:
    """A training job: its key, status, remote id, model handle and statistics."""

    id: str
    job_key: str
    spec_name: str
    target: str
    trainer: str
    external_id: str | None
    status: str
    workdir: str
    handle: ModelHandle | None
    stats: dict[str, Any]
    config: dict[str, Any]
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class AggregateRecord:
    """A stored metric aggregate of a run."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    method: str


@dataclass(frozen=True)
class CurvePoint:
    """One point of a training curve."""

    step: int
    name: str
    value: float


@dataclass(frozen=True)
class RunTotals:
    """Sums and means over a run's examples."""

    n: int
    mean_latency_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    cached: int
    unknown_cost: int = 0  # examples whose cost is unknown (no price or no token counts)
    mean_queue_s: float | None = None  # mean wait before the request started (generators that measure it)


@dataclass(frozen=True)
class ExportRecord:
    """A model folder written by ``fteval export-model``: where, its identity, and the run and job it came from."""

    path: str
    identity: str
    run_id: str
    job_id: str | None
    kind: str
    created_at: float
