"""The rating page in headless Chromium: rate a few items blind, export the file, import it, see it in the report.

Skipped when chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_testutil import fteval_run, wait_until
from rating_helpers import d2t_lookup_runs
from webdriver import browser

from fteval.ratings.storage import load_sheet, sheet_ratings
from fteval.storage.store import Store

pytest.importorskip("sacrebleu")


def _wait_for_file(folder: Path, timeout: float = 20) -> Path:
    done = wait_until(
        lambda: [p for p in folder.iterdir() if p.suffix == ".json"], timeout, what=f"a download in {folder}"
    )
    return done[0]


def test_rate_blind_export_import_and_report(tmp_path: Path) -> None:
    db, weak, full = d2t_lookup_runs(tmp_path, eval_limit=30)
    page = tmp_path / "rate.html"
    out = fteval_run("rate", weak, full, "--html", str(page), "--limit", "4", "--seed", "3", store=db)
    assert out.returncode == 0, out.stderr
    html = page.read_text(encoding="utf-8")
    assert weak not in html and full not in html and "lookup" not in html  # blinded
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with browser(downloads=downloads) as b:
        b.get(page.as_uri())
        assert b.console() == []  # no script error, no blocked request
        assert b.js("return performance.getEntriesByType('resource').length") == 0
        assert b.js("return document.querySelectorAll('.item').length") == 4
        assert b.js("return document.querySelectorAll('.output').length") == 8
        assert "Rate each output" in b.js("return document.getElementById('rubric').textContent")
        # the rater gives 5 to an output equal to the reference shown, else 1, on items 1-3; item 4 is left
        for item in (1, 2, 3):
            reference, outputs = b.js(
                "var c = document.getElementById('item-' + arguments[0]);"
                "return [c.querySelector('pre.reference').textContent,"
                " Array.from(c.querySelectorAll('.output pre')).map(function (p) { return p.textContent; })];",
                item,
            )
            for k, text in enumerate(outputs, start=1):
                b.click(f"input[name='r-{item}:{k}'][value='{5 if text == reference else 1}']")
        b.type("input.comment[data-id='1:1']", "checked by hand")
        assert b.js("return document.getElementById('progress').textContent") == "6 of 8 outputs rated"
        b.click("#export")  # no name yet: asks for one, exports nothing
        assert "Enter your name" in b.js("return document.getElementById('export-message').textContent")
        b.type("#rater", "ann")

        def reload_keeps_the_work() -> bool:
            # a reload keeps the work (localStorage); Chromium commits localStorage writes asynchronously,
            # so a reload at once can miss them: reload until it shows them (never: the work is lost)
            b.get(page.as_uri())
            return b.js("return document.getElementById('progress').textContent") == "6 of 8 outputs rated"

        wait_until(reload_keeps_the_work, 20, interval=0.1, what="a reload showing the saved ratings")
        assert b.js("return document.getElementById('rater').value") == "ann"
        b.click("#export")
        exported = _wait_for_file(downloads)
        shown = b.js("return document.getElementById('export-text').value")
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert data == json.loads(shown)
    assert data["rater"] == "ann" and len(data["ratings"]) == 6 and data["ratings"][0]["comment"] == "checked by hand"
    imported = fteval_run("rate", "import", str(exported), store=db)
    assert imported.returncode == 0, imported.stderr
    assert "imported 6 of 8 outputs" in imported.stderr and "'ann'" in imported.stderr
    store = Store(db)
    try:
        sheet = load_sheet(store, data["sheet"])
        ratings = sheet_ratings(store, sheet.id)
        outputs = {(e.idx, run): e for run in (weak, full) for e in store.examples(run)}
        assert len(ratings) == 6
        for r in ratings:  # de-blinded to the right run and example: 5 exactly where that run's output is the gold
            e = outputs[(r.idx, r.run_id)]
            assert r.rating == (5.0 if e.output == e.gold else 1.0), r
    finally:
        store.close()
    report = fteval_run("report", weak, full, "--md", "-", store=db)
    assert report.returncode == 0, report.stderr
    assert f"Human ratings. Sheet {sheet.id}" in report.stdout and "1 rater(s) (ann)" in report.stdout
    assert "Inter-rater agreement: n/a (needs two raters)" in report.stdout
