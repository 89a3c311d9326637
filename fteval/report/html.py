"""The report as one self-contained HTML file: tables, inline SVG plots and an example browser.

Nothing is fetched at view time: CSS, JavaScript, plots and data are inline, and the page's
Content-Security-Policy (``default-src 'none'``, the script allowed by its hash) makes the browser
refuse any request the page might try.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import TYPE_CHECKING, Any

from fteval.analysis.comparetable import HEADER, comparison_rows, flip_counts
from fteval.analysis.stepsummary import STEP_HEADER, step_cells
from fteval.report.model import Report
from fteval.report.plots import all_plots, tradeoff_points
from fteval.report.ratings import RATINGS_HEADER, rating_blocks
from fteval.report.tables import PROVENANCE_HEADER, breakdown_cells, main_header, main_rows, provenance_rows

if TYPE_CHECKING:
    from fteval.analysis.compare import Comparison

__all__ = ["browser_data", "render_html"]


def _asset(name: str) -> str:
    return resources.files("fteval.report").joinpath("assets", name).read_text(encoding="utf-8")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class _Strings:
    """Interns strings: prompts, golds and outputs repeated across runs are stored once."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if text is None:
            return -1
        return self.ids.setdefault(text, len(self.ids))

    def table(self) -> list[str]:
        return list(self.ids)


def browser_data(report: Report) -> dict[str, Any]:
    """The example browser's data: per run its examples (as string ids), facets and flips.

    An example row is ``[idx, system, user, gold, output, parse_ok, parsed_or_error, scores, latency, wrong]``
    where text fields are indexes into ``strings`` and ``scores`` is ``[[metric, value, detail], ...]`` with
    ``metric`` an index into the run's ``metrics``.
    """
    s = _Strings()
    runs = []
    for run in report.runs:
        metrics = sorted({m for e in run.examples for m in e.scores})
        where = {m: i for i, m in enumerate(metrics)}
        rows = []
        for e in run.examples:
            parsed = json.dumps(e.parsed, ensure_ascii=False) if e.parse_ok else e.parse_error
            scores = [[where[m], round(sc.value, 4), s(sc.detail)] for m, sc in sorted(e.scores.items())]
            latency = round(e.latency_s, 4) if e.latency_s is not None else None
            prompt = e.prompt
            rows.append(
                [e.idx, s(prompt.get("system")), s(prompt.get("user", "")), s(e.gold), s(e.output)]
                + [int(e.parse_ok), s(parsed), scores, latency, int(run.wrong(e))]
            )
        facets = []
        for b in run.breakdowns:
            if not b.facet or not b.groups:
                continue
            labels = list(dict.fromkeys(label for e in run.examples for label in b.groups.get(e.idx, ())))
            at = {label: i for i, label in enumerate(labels)}
            members = [[at[label] for label in b.groups.get(e.idx, ())] for e in run.examples]
            facets.append({"name": b.facet, "labels": labels, "members": members})
        flips = report.flips_of(run.row.run.id)
        runs.append(
            {
                "name": run.row.name,
                "id": run.row.run.id,
                "primary": run.primary,
                "metrics": metrics,
                "rows": rows,
                "facets": facets,
                "flips": {str(i): d for i, d in flips.items()},
            }
        )
    return {"strings": s.table(), "runs": runs}


def _json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element: no '</script>', no HTML comment openers."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _figure(svg: str | None, caption: str) -> str:
    if not svg:
        return ""
    return f'<figure class="plot">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _comparison(report: Report) -> str:
    notes = "".join(f"<p>{escape(note)}</p>" for note in report.comparison_notes)
    if not report.comparisons:
        return f'<section id="compare"><h2>Comparison</h2>{notes}</section>' if notes else ""
    first = report.comparisons[0]
    parts = [
        f'<section id="compare"><h2>Comparison against A = {escape(report.name_of(first.a.id))}</h2>'
        f"<p>Each run B paired with A on the examples with identical prompts and golds; paired bootstrap"
        f" ({first.samples} resamples), McNemar's exact test for 0/1 metrics; MDE: the smallest difference"
        f" detectable at alpha {first.alpha:g}, power {first.power:g}.</p>{notes}"
    ]
    parts += [_one_comparison(cmp, report.name_of(cmp.a.id), report.name_of(cmp.b.id)) for cmp in report.comparisons]
    return "".join(parts) + "</section>"


def _one_comparison(cmp: Comparison, a_name: str, b_name: str) -> str:
    flips = ""
    if cmp.flips_metric:
        flips = (
            f"<p>Flips on <b>{escape(cmp.flips_metric)}</b>: {flip_counts(cmp)} (B against A). The example browser"
            " filters them (<i>show: right → wrong / wrong → right</i>).</p>"
        )
        shown = cmp.flips[:20]
        flips += f"<details><summary>the first {len(shown)} flipped examples</summary>"
        flips += _table(
            ["#", "flip", "gold", "output A", "output B"],
            [[str(f.idx), f.direction, f.gold, f.output_a, f.output_b] for f in shown],
            "flips",
        )
        flips += "</details>"
    return (
        f"<h3>B = {escape(b_name)} against A = {escape(a_name)}, {cmp.n} paired examples</h3>"
        f"{_table(HEADER, comparison_rows(cmp), 'compare')}{flips}"
    )


def _ratings(report: Report) -> str:
    blocks = rating_blocks(report.ratings, report.name_of)
    if not blocks:
        return ""
    parts = ['<section id="ratings"><h2>Human ratings</h2>']
    for block in blocks:
        parts.append(f"<h3>{escape(block.title)}</h3>{_table(RATINGS_HEADER, block.rows, 'ratings')}")
        parts += [f"<p class=note>{escape(n)}</p>" for n in block.notes]
    return "".join(parts) + "</section>"


def _breakdowns(report: Report, plots: dict[str, str]) -> str:
    parts = []
    for i, run in enumerate(report.runs):
        if not run.breakdowns:
            continue
        parts.append(f"<h3>{escape(run.row.name)}</h3>")
        for k, b in enumerate(run.breakdowns):
            note = f'<p class="note">{escape(b.note)}</p>' if b.note else ""
            table = _table(b.columns, breakdown_cells(b), "breakdown")
            figure = _figure(plots.get(f"b{i}-{k}"), f"{run.row.name}: {b.title}")
            parts.append(
                f'<div class="breakdown"><h4>{escape(b.title)}</h4>{note}<div class="pair">{table}{figure}</div></div>'
            )
    if not parts:
        return ""
    return '<section id="breakdowns"><h2>Where the models fail</h2>' + "".join(parts) + "</section>"


def _steps(report: Report) -> str:
    """Per-step statistics of the pipeline runs (calls, tokens, cost, latency, how often a step ran)."""
    parts = [
        f"<h3>{escape(run.row.name)}</h3>" + _table(STEP_HEADER, [step_cells(s, run.row.n) for s in run.steps], "steps")
        for run in report.runs
        if run.steps
    ]
    if not parts:
        return ""
    note = (
        "<p class=note>Per call: tokens, cost and latency. A question's latency adds its steps; the samples"
        " of one step are sent together and count once.</p>"
    )
    return '<section id="steps"><h2>Pipeline steps</h2>' + note + "".join(parts) + "</section>"


def render_html(report: Report, title: str = "fteval report") -> str:
    """The report as one HTML document that needs no network and no other file.

    Args:
        report: The built report.
        title: The page title.

    Returns:
        The HTML text.
    """
    plots = all_plots(report)
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"
    primary = next((r.primary for r in report.runs if r.primary), None) or "the first metric"
    against = "cost" if tradeoff_points(report, primary)[0] == "cost" else "latency (p50)"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.created_at))
    sections = [
        '<section id="results"><h2>Results</h2>',
        '<div class="scroll">',
        _table(main_header(report), main_rows(report), "main"),
        "</div>",
        "<p class=note>Brackets: 95% confidence intervals. Cost and latency are per question; "
        "training cost, time and tokens are the training job's.</p>",
        _figure(plots.get("tradeoff"), f"{primary} (95% CI) against {against} per question; squares are baselines"),
        _figure(plots.get("loss"), "training and eval loss per target over steps"),
        "</section>",
        _steps(report),
        _comparison(report),
        _ratings(report),
        _breakdowns(report, plots),
        '<section id="examples"><h2>Examples</h2><div id="browser" class="browser">'
        "<noscript>The example browser needs JavaScript.</noscript></div></section>",
        '<section id="provenance"><h2>Provenance</h2>',
        _table(PROVENANCE_HEADER, provenance_rows(report), "provenance"),
        "".join(f"<p class=note>{escape(n)}</p>" for n in report.notes),
        "</section>",
    ]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p class=note>{len(report.runs)} run(s), made {when} by fteval report"
        "</p></header>"
        + "".join(sections)
        + f'<script type="application/json" id="fteval-data">{_json_for_script(browser_data(report))}</script>'
        f"<script>{script}</script></body></html>\n"
    )
