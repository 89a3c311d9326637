"""Breakdowns of a stored run by the task pack's ``Parser.breakdowns`` hook, for ``fteval show`` and reports.

One code path: the parser named in the run's config turns the stored examples into
``fteval.plugin.Breakdown`` tables (per class for ``choice``, per function and slot for ViGGO, per
query feature for SQL); ``fteval show`` prints them, the report draws them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from fteval import registry
from fteval.errors import FtevalError
from fteval.plugin import Breakdown, Outcome, Parsed, Parser
from fteval.storage.records import ExampleRecord, RunRecord

__all__ = ["breakdown_json", "breakdown_table", "outcomes", "run_breakdowns"]


def _parser(run: RunRecord) -> Parser | None:
    options = dict(run.config.get("parser") or {})
    name = options.pop("name", None)
    if not name:
        return None
    cls = registry.load("parser", str(name))
    return cls(cls.Config.model_validate(options))


def outcomes(examples: Sequence[ExampleRecord]) -> list[Outcome]:
    """The plugin-contract view of stored examples, for ``Parser.breakdowns``."""
    return [
        Outcome(
            index=e.idx,
            gold=e.gold,
            output=e.output,
            pred=Parsed(e.parse_ok, e.parsed, e.parse_error),
            scores=dict(e.scores),
        )
        for e in examples
    ]


def run_breakdowns(run: RunRecord, examples: Sequence[ExampleRecord]) -> tuple[list[Breakdown], str | None]:
    """The run's breakdowns, and why there are none when the parser cannot be loaded or fails."""
    try:
        parser = _parser(run)
        return (parser.breakdowns(outcomes(examples)) if parser is not None else []), None
    except FtevalError as exc:
        return [], str(exc)
    except Exception as exc:  # a plugin's bug must not cost the user the rest of the output
        return [], f"the parser's breakdowns failed: {type(exc).__name__}: {exc}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def breakdown_table(breakdown: Breakdown) -> Table:
    """A breakdown as a terminal table."""
    table = Table(*map(escape, breakdown.columns), title=escape(breakdown.title), title_justify="left")
    for row in breakdown.rows:
        table.add_row(*map(_cell, row))
    if breakdown.note:
        table.caption = escape(breakdown.note)
    return table


def breakdown_json(breakdown: Breakdown) -> dict[str, Any]:
    """A breakdown as plain data (without the per-example groups, which only the report's browser needs)."""
    data = dataclasses.asdict(breakdown)
    data.pop("groups", None)
    return data
