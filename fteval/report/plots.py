"""The report's plots as inline SVG (matplotlib, imported only here and only when a report is drawn).

Each plot has a pure data function (tested on hand-made runs) and a renderer that draws it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fteval.errors import PluginError
from fteval.plugin import Breakdown
from fteval.report.model import Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "MAX_ROWS",
    "TradeoffPoint",
    "all_plots",
    "bar_series",
    "breakdown_svg",
    "loss_svg",
    "matrix_cells",
    "tradeoff_points",
    "tradeoff_svg",
]

MAX_ROWS = 30  # bars drawn per breakdown; the table beside it has every row


@dataclass(frozen=True)
class TradeoffPoint:
    """One run on the accuracy-cost plot: x is the cost (or latency) per question, y the metric with its CI."""

    label: str
    x: float
    y: float
    ci_low: float
    ci_high: float
    baseline: bool


def tradeoff_points(report: Report, metric: str) -> tuple[str, list[TradeoffPoint]]:
    """Points of ``metric`` against cost per question; latency p50 is the x axis when no run has a cost.

    Returns:
        The x-axis quantity (``cost``, ``latency``) and one point per run that has the metric and that quantity.
    """
    rows = [r.row for r in report.runs]
    quantity = "cost" if any(r.cost_per_question is not None for r in rows) else "latency"
    points = []
    for r in rows:
        x = r.cost_per_question if quantity == "cost" else r.latency_p50
        agg = r.metrics.get(metric)
        if x is None or agg is None:
            continue
        points.append(TradeoffPoint(r.name, x, agg.value, agg.ci_low, agg.ci_high, r.run.is_baseline))
    return quantity, points


def bar_series(breakdown: Breakdown) -> tuple[list[str], dict[str, list[float]]]:
    """Row labels and, per plotted column, its values (a missing value draws as 0), first ``MAX_ROWS`` rows."""
    rows = breakdown.rows[:MAX_ROWS]
    where = {c: i for i, c in enumerate(breakdown.columns)}
    series = {}
    for column in breakdown.plot_columns:
        i = where[column]
        series[column] = [float(v) if isinstance(v, int | float) else 0.0 for v in (row[i] for row in rows)]
    return [str(row[0]) for row in rows], series


def matrix_cells(breakdown: Breakdown) -> tuple[list[str], list[str], list[list[float]]]:
    """Row labels, column labels and the numeric cells of a matrix breakdown (first ``MAX_ROWS`` each way)."""
    rows = breakdown.rows[:MAX_ROWS]
    cells = [[float(v) if isinstance(v, int | float) else 0.0 for v in row[1 : MAX_ROWS + 1]] for row in rows]
    return [str(r[0]) for r in rows], [str(c) for c in breakdown.columns[1 : MAX_ROWS + 1]], cells


# ---------------------------------------------------------------- rendering


@contextmanager
def _figure(key: str, width: float, height: float) -> Iterator[Figure]:
    try:
        import matplotlib
        from matplotlib.figure import Figure  # no pyplot: no global backend state
    except ImportError:
        raise PluginError("plots need matplotlib: pip install 'fteval[report]'") from None
    # fonttype none: text stays text (small, searchable); the salt keeps clip-path ids unique per figure;
    # labels come from target names and data: plain text, never math text ($x$) or TeX
    with matplotlib.rc_context(
        {
            "text.parse_math": False,
            "text.usetex": False,
            "svg.fonttype": "none",
            "svg.hashsalt": key,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # scale down with the page, never up past the drawn size
    return re.sub(
        r'<svg([^>]*?) width="([^"]*)" height="[^"]*"', r'<svg\1 class="plot" style="max-width:\2"', text, count=1
    )


def loss_svg(report: Report, key: str = "loss") -> str | None:
    """Training and eval loss per run over steps; None when no run has a curve."""
    jobs: set[str] = set()
    lines = []
    for r in report.runs:
        job = r.row.run.job_id
        if job is None or job in jobs:  # two evaluations of one trained model share its curves
            continue
        jobs.add(job)
        lines += [(r.row.name, c) for c in r.curves if c.steps]
    if not lines:
        return None
    with _figure(key, 7, 3.2) as fig:
        ax = fig.add_subplot()
        for name, curve in lines:
            style: dict[str, Any] = {"marker": "o", "markersize": 3} if curve.name.startswith("eval") else {}
            ax.plot(curve.steps, curve.values, label=f"{name}: {curve.name}", **style)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        return _svg(fig)


def tradeoff_svg(report: Report, metric: str, key: str = "tradeoff") -> str | None:
    """``metric`` (with 95% CI bars) against cost or latency per question; None with no points."""
    quantity, points = tradeoff_points(report, metric)
    if not points:
        return None
    with _figure(key, 7, 3.2) as fig:
        ax = fig.add_subplot()
        for p in points:
            err = [[max(0.0, p.y - p.ci_low)], [max(0.0, p.ci_high - p.y)]]
            ax.errorbar([p.x], [p.y], yerr=err, fmt="s" if p.baseline else "o", capsize=4)
            ax.annotate(p.label, (p.x, p.y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xlabel("cost per question (USD)" if quantity == "cost" else "latency per question, p50 (s)")
        ax.set_ylabel(f"{metric} (95% CI)")
        if len({p.x for p in points}) > 1 and min(p.x for p in points) > 0:
            ax.set_xscale("log")
        ax.margins(x=0.2, y=0.15)
        return _svg(fig)


def breakdown_svg(breakdown: Breakdown, key: str) -> str | None:
    """A breakdown drawn as grouped horizontal bars or a heat map; None when it has no plot or no rows."""
    if not breakdown.rows or breakdown.plot == "none":
        return None
    if breakdown.plot == "matrix":
        return _matrix_svg(breakdown, key)
    labels, series = bar_series(breakdown)
    if not series:
        return None
    width = 0.8 / len(series)
    with _figure(key, 7, 0.8 + 0.22 * len(labels) * max(1, len(series) * 0.6)) as fig:
        ax = fig.add_subplot()
        for k, (column, values) in enumerate(series.items()):
            ax.barh([i + k * width for i in range(len(labels))], values, height=width, label=column)
        ax.set_yticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels)
        ax.invert_yaxis()
        if all(0 <= v <= 1 for vs in series.values() for v in vs):
            ax.set_xlim(0, 1)
        if len(series) > 1:  # above the axes: inside, it would cover the bars
            fig.legend(fontsize=8, loc="outside upper center", ncols=len(series), frameon=False)
        return _svg(fig)


def _matrix_svg(breakdown: Breakdown, key: str) -> str | None:
    rows, columns, cells = matrix_cells(breakdown)
    if not cells or not columns:
        return None
    with _figure(key, min(7, 1.5 + 0.6 * len(columns)), min(7, 1.2 + 0.45 * len(rows))) as fig:
        ax = fig.add_subplot()
        ax.imshow(cells, cmap="Blues", aspect="auto")
        peak = max((v for row in cells for v in row), default=0) or 1
        for i, row in enumerate(cells):
            for j, v in enumerate(row):
                color = "white" if v > peak / 2 else "black"
                ax.text(j, i, f"{v:g}", ha="center", va="center", color=color, fontsize=8)
        ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel(breakdown.columns[0].split("\\")[-1].strip() or "predicted")
        ax.set_ylabel(breakdown.columns[0].split("\\")[0].strip() or "gold")
        return _svg(fig)


def all_plots(report: Report) -> dict[str, str]:
    """Every plot of a report by key: ``loss``, ``tradeoff``, and ``b<run>-<k>`` per breakdown."""
    out: dict[str, str] = {}
    svg = loss_svg(report)
    if svg:
        out["loss"] = svg
    primary = next((r.primary for r in report.runs if r.primary), None)
    if primary:
        svg = tradeoff_svg(report, primary)
        if svg:
            out["tradeoff"] = svg
    for i, run in enumerate(report.runs):
        for k, b in enumerate(run.breakdowns):
            svg = breakdown_svg(b, f"b{i}-{k}")
            if svg:
                out[f"b{i}-{k}"] = svg
    return out
