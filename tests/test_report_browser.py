"""The HTML report in a real browser (headless Chromium through chromedriver): it loads without console
errors or network requests, shows its table and every plot, and its example filters change the rows.

Skipped when chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fteval_testutil import wait_until
from report_helpers import hand_made_run, synthetic_viggo_rows, viggo_lookup_runs
from webdriver import Browser, browser

from fteval.report.html import render_html
from fteval.report.model import build_report
from fteval.storage.store import Store

pytest.importorskip("matplotlib")


def _count(b: Browser) -> str:
    text: str = b.js("return document.getElementById('count').textContent")
    return text


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of two real ViGGO lookup runs (all rows memorised vs a tenth), written to disk."""
    home = tmp_path_factory.mktemp("browser")
    runs = viggo_lookup_runs(home)
    store = Store(runs["db"])
    report = build_report(store, [store.get_run(runs["full"]), store.get_run(runs["tenth"])])
    path = home / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_loads_from_disk_without_errors_or_requests_and_shows_table_and_plots(page: Path) -> None:
    with browser() as b:
        b.get(page.as_uri())
        assert b.console() == []  # no script error, no blocked request
        assert b.js("return performance.getEntriesByType('resource').length") == 0
        assert b.js("return document.body.getAttribute('data-ready-ms')") is not None
        rows = b.js("return document.querySelectorAll('table.main tbody tr').length")
        height = b.js("return document.querySelector('table.main').getBoundingClientRect().height")
        assert rows == 2 and height > 40
        sizes = b.js(
            "return Array.from(document.querySelectorAll('svg.plot')).map(function (s) {"
            " var r = s.getBoundingClientRect(); return [r.width, r.height]; })"
        )
        assert len(sizes) == 5 and all(w > 200 and h > 80 for w, h in sizes), sizes
        shot = b.screenshot()
        b.get("about:blank")
        blank = b.screenshot()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5 * len(blank)  # not blank


def test_the_page_cannot_make_requests(page: Path) -> None:
    with browser() as b:
        b.get(page.as_uri())
        b.js("var i = new Image(); i.src = 'https://example.com/x.png'; document.body.appendChild(i);")
        seen: list[dict[str, str]] = []

        def refused() -> bool:
            seen.extend(b.console())  # entries since the last call
            return any("Content Security Policy" in e["message"] for e in seen)

        wait_until(refused, 10, what="the Content Security Policy refusal in the console")


def test_filters_change_the_rows_shown(page: Path) -> None:
    with browser() as b:
        b.get(page.as_uri())
        assert _count(b) == "150 of 150 examples"
        assert b.js("return document.querySelectorAll('#list .ex').length") == 50  # one page
        b.choose("#f-show", "wrong")
        assert _count(b) == "0 of 150 examples"  # the full lookup is right everywhere
        b.choose("#f-run", "1")
        b.choose("#f-show", "wrong")
        wrong = int(_count(b).split()[0])
        assert 100 < wrong < 150
        b.choose("#f-show", "right->wrong")
        assert _count(b) == f"{wrong} of 150 examples"  # every one was right under A
        b.choose("#f-show", "all")
        b.choose("#f-facet-function", "0")
        first = b.js("return document.querySelector('#f-facet-function option[value=\"0\"]').textContent")
        n = int(_count(b).split()[0])
        assert 0 < n < 150
        tags = b.js(
            "return Array.from(document.querySelectorAll('#list .ex h4')).map(function (h) { return h.textContent; })"
        )
        assert all(f"function: {first}" in t for t in tags)
        b.choose("#f-facet-function", "")
        b.type("#f-search", "PlayStation")
        hits = int(_count(b).split()[0])
        texts = b.js(
            "return Array.from(document.querySelectorAll('#list .ex')).map(function (e) { return e.textContent; })"
        )
        assert 0 < hits < 150 and all("playstation" in t.lower() for t in texts)
        assert b.console() == []


def test_five_thousand_examples_stay_usable(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run = hand_made_run(store, synthetic_viggo_rows(5000), parser={"name": "viggo"}, spec_name="big")
    path = tmp_path / "big.html"
    path.write_text(render_html(build_report(store, [store.get_run(run)])), encoding="utf-8")
    assert path.stat().st_size < 8_000_000
    with browser() as b:
        start = time.perf_counter()
        b.get(path.as_uri())
        loaded = time.perf_counter() - start
        assert b.console() == [] and _count(b) == "5000 of 5000 examples"
        assert loaded < 10, f"took {loaded:.1f} s to load"
        start = time.perf_counter()
        b.choose("#f-show", "unparsed")
        assert 0 < int(_count(b).split()[0]) < 5000 and time.perf_counter() - start < 3
