"""Per-metric breakdowns of a stored run (e.g. per-class F1 and a confusion matrix), for ``fteval show``.

A metric plugin offers one by a static ``breakdown(parts)`` method that turns the stored
``Score.parts`` of a run into a report with ``rows`` (label, precision, recall, f1, support),
``labels``, ``predicted`` and ``matrix[gold][pred]``; see fteval_generic.classes.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from fteval import registry
from fteval.errors import PluginError

if TYPE_CHECKING:
    from fteval.store import Store

__all__ = ["breakdown_json", "breakdown_tables", "breakdowns"]


def breakdowns(store: Store, run_id: str, metrics: list[str]) -> dict[str, Any]:
    """The breakdown of each of ``metrics`` whose plugin offers one, by metric name (plugins that fail to load are skipped)."""
    out: dict[str, Any] = {}
    scores = None
    for name in metrics:
        try:
            cls = registry.load("metric", name)
        except PluginError:
            continue
        make = getattr(cls, "breakdown", None)
        if make is None:
            continue
        scores = scores if scores is not None else store.scores(run_id)
        report = make([parts for _, _, _, parts in scores.get(name, [])])
        if report is not None:
            out[name] = report
    return out


def breakdown_tables(name: str, report: Any) -> list[Table]:
    """A per-class table and a confusion-matrix table for one breakdown."""
    per_class = Table("class", "precision", "recall", "F1", "support", title=f"{name}: per class")
    for row in report.rows:
        per_class.add_row(
            escape(row.label), f"{row.precision:.3f}", f"{row.recall:.3f}", f"{row.f1:.3f}", str(row.support)
        )
    per_class.add_row("macro", "", "", f"{report.macro_f1:.3f}", str(sum(r.support for r in report.rows)))
    matrix = Table("gold \\ predicted", *map(escape, report.predicted), title=f"{name}: confusion matrix (rows: gold)")
    for gold in report.labels:
        matrix.add_row(escape(gold), *(str(report.matrix[gold][p]) for p in report.predicted))
    return [per_class, matrix]


def breakdown_json(report: Any) -> Any:
    """A breakdown as plain data."""
    return dataclasses.asdict(report) if dataclasses.is_dataclass(report) and not isinstance(report, type) else report
