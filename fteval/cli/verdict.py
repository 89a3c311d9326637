"""How a gate ends a CI log: tables at full width when not a terminal, and the verdict as the last line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from fteval.analysis.comparetable import p_clause

if TYPE_CHECKING:
    from fteval.analysis.compare import Comparison

__all__ = ["verdict_line", "wide_console"]


def wide_console(stderr: bool = False) -> Console:
    """A console that wraps at the terminal's width, or never when output is a pipe or a CI log."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=100_000)


def verdict_line(results: Sequence[Comparison]) -> str:
    """``gate: FAILED: ...`` naming each failed metric and runs, else ``gate: PASSED: ...`` (inconclusive ones named)."""
    failed = [(c, g) for c in results for g in c.gates if g.status == "failed"]
    unsure = [(c, g) for c in results for g in c.gates if g.status == "inconclusive"]
    checked = sum(len(c.gates) for c in results)
    if failed:
        what = "; ".join(
            f"{g.metric} of {c.b.name} worse than {c.a.name} by {g.drop:.4f} (allowed {g.max_drop:g}, {p_clause(g.p_value)})"
            for c, g in failed
        )
        return f"gate: FAILED: {what}"
    note = (
        "; inconclusive (worse, not significant): " + ", ".join(f"{g.metric} of {c.b.name}" for c, g in unsure)
        if unsure
        else ""
    )
    return f"gate: PASSED: {checked} gated metric(s), none significantly worse beyond its allowed drop{note}"
