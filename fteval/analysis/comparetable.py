"""One rendering of a comparison's numbers (metric table, p-values, flip counts) for the terminal, Markdown and HTML.

``fteval compare`` (terminal and ``--md``) and ``fteval report`` (Markdown and HTML) lay these cells
out in their own medium; none of them formats these numbers itself (gate lines and the
sample-size advice are ``fteval.cli.compare_cmds``'s own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fteval.analysis.compare import Comparison, MetricComparison

__all__ = ["HEADER", "comparison_rows", "flip_counts", "metric_cells", "p_clause", "p_text"]

#: The columns of a comparison's metric table, in every output.
HEADER = ("metric", "A", "B", "B − A", "95% CI", "p", "test", "n", "MDE")


def p_text(value: float) -> str:
    """A p-value as a table shows it: four decimals, ``<0.0001`` below that."""
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def p_clause(value: float) -> str:
    """A p-value inside a sentence: ``p=0.0123`` or ``p<0.0001``."""
    text = p_text(value)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _number(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def metric_cells(m: MetricComparison) -> list[str]:
    """One metric's row under ``HEADER``; a metric where lower is better says so after its name."""
    return [
        m.metric + ("" if m.higher_is_better else " (lower is better)"),
        f"{m.a:.3f}",
        f"{m.b:.3f}",
        f"{m.difference:+.3f}",
        f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]",
        p_text(m.p_value),
        m.test,
        str(m.n),
        _number(m.mde),
    ]


def comparison_rows(cmp: Comparison) -> list[list[str]]:
    """The metric table of a comparison under ``HEADER``, one row per compared metric."""
    return [metric_cells(m) for m in cmp.metrics]


def flip_counts(cmp: Comparison) -> str:
    """``2 right->wrong, 0 wrong->right``: B's flips against A on the flips metric (the directions ``Flip`` names)."""
    return f"{cmp.n_right_to_wrong} right->wrong, {cmp.n_wrong_to_right} wrong->right"
