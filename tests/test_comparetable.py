"""One rendering of a comparison: the terminal, `compare --md` and the report (Markdown, HTML) show the same cells."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from report_helpers import Row, hand_made_run
from rich.console import Console

from fteval.analysis.compare import Comparison, compare_runs
from fteval.analysis.comparetable import HEADER, comparison_rows, p_clause, p_text
from fteval.cli.compare_cmds import comparison_markdown, print_comparison
from fteval.report.html import render_html
from fteval.report.markdown import render_markdown
from fteval.report.mdsafe import md_text
from fteval.report.model import build_report
from fteval.storage.store import Store


def test_p_values_read_the_same_everywhere() -> None:
    assert (p_text(0.5), p_text(0.012345), p_text(1e-4), p_text(9.9e-5)) == ("0.5000", "0.0123", "0.0001", "<0.0001")
    assert (p_clause(0.012345), p_clause(3e-9)) == ("p=0.0123", "p<0.0001")


@pytest.fixture
def compared(tmp_path: Path, external_plugin_path: Path) -> tuple[Store, Comparison, str, str]:
    """Two hand-made runs on the same 8 examples, scored on exact_match and on mismatch (lower is better)."""
    store = Store(tmp_path / "runs.db")
    gold = "abcdefgh"
    runs = []
    for target, right in (("t", lambda i: i % 2 == 0), ("u", lambda i: i % 3 == 0)):
        rows = [
            Row(g, g, scores={"exact_match": float(right(i)), "mismatch": float(not right(i))})
            for i, g in enumerate(gold)
        ]
        runs.append(hand_made_run(store, rows, metrics=("exact_match", "mismatch"), target=target))
    a, b = store.get_run(runs[0]), store.get_run(runs[1])
    return store, compare_runs(store, a, b), a.id, b.id  # as the report compares them


def test_every_output_shows_the_one_metric_table(compared: tuple[Store, Comparison, str, str]) -> None:
    store, cmp, a, b = compared
    rows = comparison_rows(cmp)
    assert [r[0] for r in rows] == ["exact_match", "mismatch (lower is better)"]
    assert all(len(r) == len(HEADER) for r in rows)
    console = Console(record=True, width=300)
    print_comparison(console, cmp)
    terminal = console.export_text()
    pr_comment = comparison_markdown(cmp)
    report = build_report(store, [store.get_run(a), store.get_run(b)])
    markdown, page = render_markdown(report), render_html(report)
    for row in rows:
        assert any(all(cell in line for cell in row) for line in terminal.splitlines()), row
        md_row = "| " + " | ".join(md_text(cell) for cell in row) + " |"
        assert md_row in pr_comment and md_row in markdown
        assert "".join(f"<td>{html.escape(cell)}</td>" for cell in row) in page
    flips = f"{cmp.n_right_to_wrong} right->wrong, {cmp.n_wrong_to_right} wrong->right"
    assert cmp.n_right_to_wrong and cmp.n_wrong_to_right
    for text in (terminal, pr_comment, markdown, page):
        assert f"on exact_match: {flips}" in text.replace("<b>", "").replace("</b>", "")
