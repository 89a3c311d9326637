"""The report as Markdown for a pull-request comment: the main table, the comparisons and the worst examples."""

from __future__ import annotations

from collections.abc import Sequence

from fteval.analysis.comparetable import HEADER, comparison_rows, flip_counts
from fteval.analysis.stepsummary import STEP_HEADER, step_cells
from fteval.report.mdsafe import md_text
from fteval.report.model import Report, RunReport, worst_examples
from fteval.report.ratings import RATINGS_HEADER, rating_blocks
from fteval.report.tables import PROVENANCE_HEADER, breakdown_cells, main_header, main_rows, provenance_rows
from fteval.storage.records import ExampleRecord

__all__ = ["render_markdown"]

SNIPPET = 160  # characters of a prompt, gold or output shown per example


_escape = md_text  # every text from a run (names, data, outputs, notes) goes through it


def _short(text: str, limit: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return lines


def _comparison(report: Report) -> list[str]:
    lines: list[str] = []
    for note in report.comparison_notes:
        lines += [f"_{_escape(note)}_", ""]
    for cmp in report.comparisons:
        b_name, a_name = _escape(report.name_of(cmp.b.id)), _escape(report.name_of(cmp.a.id))
        lines += [f"### {b_name} vs {a_name} (A), paired on {cmp.n} examples", ""]
        lines += [*_table(HEADER, comparison_rows(cmp)), ""]
        if cmp.flips_metric:
            lines += [f"Flips on {_escape(cmp.flips_metric)}: {flip_counts(cmp)}.", ""]
    return lines


def _examples(run: RunReport, examples: list[ExampleRecord]) -> list[str]:
    rows = []
    for e in examples:
        got = (
            _short(e.output)
            if e.parse_ok
            else f"{_short(e.output, 100)} (parse failed: {_short(e.parse_error or '', 80)})"
        )
        details = [e.scores[m].detail for m in (run.primary, *sorted(e.scores)) if m in e.scores and e.scores[m].detail]
        detail = details[0] if details else None
        rows.append([str(e.idx), _short(e.prompt.get("user", "")), _short(e.gold), got, _short(detail or "", 100)])
    return _table(["#", "prompt", "gold", "output", "why"], rows)


def render_markdown(report: Report, worst: int = 5) -> str:
    """The report as GitHub-flavoured Markdown.

    Args:
        report: The built report.
        worst: Wrong examples listed per run (parse failures first).

    Returns:
        Markdown text ending with a newline.
    """
    lines = ["## fteval report", ""]
    lines += _table(main_header(report), main_rows(report))
    lines += ["", "Brackets: 95% confidence intervals. Latency and cost are per question.", ""]
    lines += _comparison(report)
    for block in rating_blocks(report.ratings, report.name_of):
        lines += [f"### Human ratings. {block.title}", "", *_table(RATINGS_HEADER, block.rows), ""]
        lines += [*block.notes, ""]
    for run in report.runs:
        if run.steps:
            lines += [f"### {_escape(run.row.name)}: pipeline steps", ""]
            lines += [*_table(STEP_HEADER, [step_cells(s, run.row.n) for s in run.steps]), ""]
    for run in report.runs:
        wrong = sum(run.wrong(e) for e in run.examples)
        examples = worst_examples(run, worst)
        if not examples:
            continue
        title = f"{run.row.name}: {wrong} of {len(run.examples)} wrong on {run.primary}; the worst {len(examples)}"
        lines += ["<details>", f"<summary>{_escape(title)}</summary>", "", *_examples(run, examples), "", "</details>"]
        lines.append("")
    for run in report.runs:
        for b in run.breakdowns:
            if not b.rows:
                continue
            lines += ["<details>", f"<summary>{_escape(run.row.name)}: {_escape(b.title)}</summary>", ""]
            lines += [*_table(b.columns, breakdown_cells(b)), "", "</details>", ""]
    lines += ["<details>", "<summary>provenance</summary>", ""]
    lines += [*_table(PROVENANCE_HEADER, provenance_rows(report)), "", "</details>", ""]
    lines += [f"_note: {_escape(n)}_" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"
