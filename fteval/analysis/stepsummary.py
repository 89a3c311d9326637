"""Per-step statistics of pipeline runs as table rows, shared by ``fteval show``, ``compare`` and ``report``."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from fteval.storage.callstore import StepStats, step_stats
from fteval.storage.records import RunRecord
from fteval.storage.store import Store

__all__ = ["STEP_HEADER", "step_cells", "step_table"]

#: Columns of a per-step table.
STEP_HEADER = (
    "step",
    "ran on",
    "calls",
    "from cache",
    "tokens in / out per call",
    "cost / call (USD)",
    "latency / call (s)",
)


def _per_call(total: float | None, calls: int, spec: str) -> str:
    return "–" if total is None or not calls else format(total / calls, spec)


def step_cells(stats: StepStats, n_examples: int) -> list[str]:
    """One step's row: on how many questions it ran (conditional steps run on fewer), its calls and their means."""
    share = f" ({stats.examples / n_examples:.0%})" if n_examples else ""
    tokens = f"{_per_call(stats.prompt_tokens, stats.calls, '.0f')} / {_per_call(stats.completion_tokens, stats.calls, '.0f')}"
    return [
        stats.step,
        f"{stats.examples} of {n_examples}{share}",
        str(stats.calls),
        str(stats.cached),
        tokens,
        _per_call(stats.cost_usd, stats.calls, ".6f"),
        "–" if stats.latency_s is None else f"{stats.latency_s:.3f}",
    ]


def step_table(store: Store, run: RunRecord) -> Table | None:
    """A pipeline run's per-step table (None for a run without recorded calls), with calls per question."""
    stats = step_stats(store, run.id)
    if not stats:
        return None
    n = run.n_done or run.n_examples
    calls = sum(s.calls for s in stats)
    totals = [sum(getattr(s, k) or 0 for s in stats) for k in ("prompt_tokens", "completion_tokens")]
    per_question = f"{calls / n:.2f} calls and {totals[0] / n:.0f} / {totals[1] / n:.0f} tokens in / out" if n else "–"
    title = f"{run.id}: pipeline steps ({calls} calls; per question {per_question})"
    table = Table(title=escape(title), title_justify="left")
    for i, col in enumerate(STEP_HEADER):
        table.add_column(col, justify="left" if i == 0 else "right")
    for s in stats:
        table.add_row(*step_cells(s, n))
    return table
