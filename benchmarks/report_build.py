"""Time and size of `fteval report`: building the report, rendering HTML and Markdown, and loading the page.

Run: python benchmarks/report_build.py --store .fteval/runs.db RUN_OR_SPEC ...   (e.g. the 1,083-row ViGGO run)
     python benchmarks/report_build.py --synthetic 5000                         (a hand-made ViGGO-like run)

With chromium and chromedriver installed it also opens the page headless and reports the time to
the load event and the browser's time to render the example list.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the hand-made run helper and the WebDriver client


def _timed(label: str, fn, *args, **kw):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kw)
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("refs", nargs="*")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--synthetic", type=int, default=0, help="rows of a hand-made ViGGO-like run")
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp()) / "report.html")
    args = parser.parse_args()

    from fteval.cli.report_cmds import resolve_runs
    from fteval.report.html import render_html
    from fteval.report.markdown import render_markdown
    from fteval.report.model import build_report
    from fteval.storage.store import Store

    if args.synthetic:
        from report_helpers import hand_made_run, synthetic_viggo_rows

        store = Store(args.out.with_suffix(".db"))
        rows = synthetic_viggo_rows(args.synthetic)
        runs = [store.get_run(hand_made_run(store, rows, parser={"name": "viggo"}, spec_name="synthetic"))]
    else:
        store = Store(args.store)
        runs = resolve_runs(store, tuple(args.refs))
    total = time.perf_counter()
    report = _timed("build (store, breakdowns, comparison)", build_report, store, runs)
    page = _timed("render HTML (plots, data)", render_html, report)
    _timed("render Markdown", render_markdown, report)
    print(
        f"whole report: {time.perf_counter() - total:.2f} s for {sum(len(r.examples) for r in report.runs):,} examples"
    )
    args.out.write_text(page, encoding="utf-8")
    print(f"HTML: {args.out.stat().st_size / 1e6:.2f} MB ({args.out})")

    from webdriver import chromium_paths

    if chromium_paths() is None:
        print("chromium/chromedriver not installed: load time not measured")
        return
    import pytest
    from webdriver import browser

    try:
        with browser() as b:
            start = time.perf_counter()
            b.get(args.out.as_uri())
            print(f"browser: load event after {time.perf_counter() - start:.2f} s (from disk, headless)")
            print(f"browser: example list rendered in {b.js('return document.body.dataset.readyMs')} ms of script")
            errors = b.console()
            print(f"browser: {len(errors)} console messages")
    except pytest.skip.Exception as exc:
        print(f"browser: skipped ({exc})")


if __name__ == "__main__":
    main()
