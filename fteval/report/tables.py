"""The report's tables as text cells, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from fteval.plugin import Breakdown, Cell
from fteval.report.model import Report, RunRow

__all__ = ["PROVENANCE_HEADER", "breakdown_cells", "cell", "main_header", "main_rows", "provenance_rows"]


def _num(value: float | None, spec: str, unit: str = "") -> str:
    return "–" if value is None else f"{format(value, spec)}{unit}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _usd(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "$0"
    return f"${value:.2f}" if value >= 0.1 else f"${value:.6f}"


def _has_parse_metric(report: Report) -> bool:
    """Whether a metric already is the parse rate (``parse_rate``/``format_rate``: the share the parser accepted)."""
    return any(m in ("parse_rate", "format_rate") for m in report.metrics)


def main_header(report: Report) -> list[str]:
    """Columns of the main table: target, model, n, every metric, then parse rate, costs, times, latency."""
    return [
        "target",
        "model",
        "n",
        *report.metrics,
        *([] if _has_parse_metric(report) else ["parse rate"]),
        "training cost",
        "training time",
        "trained tokens",
        "cost / question",
        "latency p50 / p95",
    ]


def _metric(row: RunRow, name: str) -> str:
    agg = row.metrics.get(name)
    if agg is None:
        return "–"
    text = f"{agg.value:.3f} [{agg.ci_low:.3f}, {agg.ci_high:.3f}]"
    return text if agg.n == row.n else f"{text} n={agg.n}"


def main_rows(report: Report) -> list[list[str]]:
    """One row per run, in the report's order."""
    out = []
    for r in report.runs:
        row = r.row
        latency = (
            "–" if row.latency_p50 is None else f"{_num(row.latency_p50, '.4f')} / {_num(row.latency_p95, '.4f')} s"
        )
        out.append(
            [
                row.name,
                row.model,
                str(row.n),
                *(_metric(row, m) for m in report.metrics),
                *([] if _has_parse_metric(report) else [_num(row.parse_rate, ".3f")]),
                _usd(row.train_cost_usd),
                _duration(row.train_wall_s),
                "–" if row.trained_tokens is None else f"{row.trained_tokens:,}",
                "unknown" if row.cost_unknown else _usd(row.cost_per_question),
                latency,
            ]
        )
    return out


def provenance_rows(report: Report) -> list[list[str]]:
    """Per run: target, run id, status, spec name and hash, model location and identity, versions."""
    return [
        [
            r.row.name,
            r.row.run.id,
            r.row.run.status,
            f"{r.row.run.spec_name} sha256:{r.row.run.spec_hash[:12]}",
            r.row.run.model_location or "–",
            r.row.run.model_identity or r.row.run.model_fingerprint,
            r.row.versions,
        ]
        for r in report.runs
    ]


PROVENANCE_HEADER = ["target", "run", "status", "spec", "model location", "model identity", "versions"]


def cell(value: Cell) -> str:
    """A breakdown cell as text: rates and other floats with 3 decimals, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def breakdown_cells(breakdown: Breakdown) -> list[list[str]]:
    """A breakdown's rows as text."""
    return [[cell(v) for v in row] for row in breakdown.rows]
