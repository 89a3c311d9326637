"""fteval report: the data behind every table and plot on hand-made runs, and real ViGGO/yes-no runs end to end."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fteval_testutil import ROOT, SPECS, fteval_run
from report_helpers import Row, hand_made_run, viggo_lookup_runs

from fteval.analysis.compare import compare_runs
from fteval.errors import UsageError
from fteval.plugin import Breakdown
from fteval.report.html import browser_data, render_html
from fteval.report.markdown import render_markdown
from fteval.report.model import build_report, worst_examples
from fteval.report.plots import bar_series, matrix_cells, tradeoff_points
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

# ---------------------------------------------------------------- hand-made runs


def _hand_made(tmp_path: Path) -> tuple[Store, str, str]:
    store = Store(tmp_path / "r.db")
    rows = [
        Row("a", "a", scores={"exact_match": 1.0}, latency_s=0.1, cost_usd=0.002),
        Row("b", "x", scores={"exact_match": 0.0}, latency_s=0.3, cost_usd=0.002),
        Row("c", "?", parse_ok=False, latency_s=0.2, cost_usd=0.004),
        Row("d", "d", scores={"exact_match": 1.0}, latency_s=0.4, cost_usd=0.000),
    ]
    curve = [(1, "loss", 2.0), (2, "loss", 1.5), (2, "eval_loss", 1.7), (2, "lr", 0.001)]
    stats = {"wall_s": 90.0, "trained_tokens": 12345, "cost_usd": 1.25}
    trained = hand_made_run(store, rows, target="tuned", job_stats=stats, curve=curve)
    guesses = [Row(r.gold, "a", scores={"exact_match": float(r.gold == "a")}) for r in rows]
    baseline = hand_made_run(store, guesses, target="base", baseline=True)
    return store, trained, baseline


@pytest.mark.fast
def test_main_row_figures_from_a_hand_made_run(tmp_path: Path) -> None:
    store, trained, _ = _hand_made(tmp_path)
    report = build_report(store, [store.get_run(trained)], compare=False)
    row = report.runs[0].row
    assert (row.n, row.parse_rate) == (4, 0.75)
    assert row.cost_per_question == pytest.approx(0.002)  # 0.008 over 4 questions
    assert (row.latency_p50, row.latency_p95) == (0.3, 0.4)  # nearest rank of [0.1, 0.2, 0.3, 0.4]
    assert (row.train_wall_s, row.trained_tokens, row.train_cost_usd) == (90.0, 12345, 1.25)
    assert row.metrics["exact_match"].value == 0.5
    curves = {c.name: c for c in report.runs[0].curves}
    assert set(curves) == {"loss", "eval_loss"}  # lr is not a loss
    assert curves["loss"].steps == (1, 2) and curves["loss"].values == (2.0, 1.5)


def test_loss_plot_only_for_runs_whose_job_logged_curves(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from fteval.report.plots import loss_svg

    store, trained, baseline = _hand_made(tmp_path)
    assert loss_svg(build_report(store, [store.get_run(baseline)], compare=False)) is None
    svg = loss_svg(build_report(store, [store.get_run(baseline), store.get_run(trained)], compare=False))
    assert svg is not None and svg.startswith("<svg") and "tuned: loss" in svg and "tuned: eval_loss" in svg
    page = render_html(build_report(store, [store.get_run(trained)], compare=False))
    assert page.count("<svg") == 2 and "training and eval loss per target over steps" in page


@pytest.mark.fast
def test_worst_examples_put_parse_failures_first(tmp_path: Path) -> None:
    store, trained, _ = _hand_made(tmp_path)
    run = build_report(store, [store.get_run(trained)], compare=False).runs[0]
    assert [e.idx for e in worst_examples(run, 5)] == [2, 1]
    assert [run.wrong(e) for e in run.examples] == [False, True, True, False]


@pytest.mark.fast
def test_tradeoff_points_use_cost_else_latency(tmp_path: Path) -> None:
    store, trained, baseline = _hand_made(tmp_path)
    report = build_report(store, [store.get_run(baseline), store.get_run(trained)], compare=False)
    quantity, points = tradeoff_points(report, "exact_match")
    assert quantity == "cost" and [p.label for p in points] == ["tuned"]  # the baseline has no cost
    assert points[0].x == pytest.approx(0.002) and points[0].y == 0.5 and points[0].ci_low < 0.5 < points[0].ci_high
    report = build_report(store, [store.get_run(baseline)], compare=False)
    quantity, points = tradeoff_points(report, "exact_match")
    assert quantity == "latency" and points[0].baseline and points[0].x == 0.1 and points[0].y == 0.25


@pytest.mark.fast
def test_bar_and_matrix_data_of_breakdowns() -> None:
    bars = Breakdown("t", ("f", "n", "acc", "f1"), (("x", 3, 0.5, None), ("y", 1, 1.0, 0.25)), "bars", ("acc", "f1"))
    assert bar_series(bars) == (["x", "y"], {"acc": [0.5, 1.0], "f1": [0.0, 0.25]})
    matrix = Breakdown("m", ("gold \\ predicted", "a", "b"), (("a", 4, 1), ("b", 0, 5)), "matrix")
    assert matrix_cells(matrix) == (["a", "b"], ["a", "b"], [[4.0, 1.0], [0.0, 5.0]])


@pytest.mark.fast
def test_browser_data_interns_repeated_text_and_marks_wrong_rows(tmp_path: Path) -> None:
    store, trained, baseline = _hand_made(tmp_path)
    report = build_report(store, [store.get_run(baseline), store.get_run(trained)], compare=False)
    data = browser_data(report)
    assert data["strings"].count("question") == 1 and data["strings"].count("Answer.") == 1
    rows = data["runs"][1]["rows"]
    assert [r[9] for r in rows] == [0, 1, 1, 0] and [r[5] for r in rows] == [1, 1, 0, 1]
    assert data["strings"][rows[2][6]] == "cannot parse"


# ---------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def viggo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Lookup runs on 150 ViGGO training rows: one memorised all rows (right everywhere), one a tenth."""
    return viggo_lookup_runs(tmp_path_factory.mktemp("report"))


def test_viggo_report_compares_with_the_compare_statistics(viggo: dict[str, object]) -> None:
    store = Store(viggo["db"])
    a, b = store.get_run(str(viggo["full"])), store.get_run(str(viggo["tenth"]))
    report = build_report(store, [a, b])
    direct = compare_runs(store, a, b, limit=100_000)
    (cmp,) = report.comparisons
    assert [(m.metric, m.difference, m.ci_low, m.p_value) for m in cmp.metrics] == [
        (m.metric, m.difference, m.ci_low, m.p_value) for m in direct.metrics
    ]
    assert len(cmp.flips) == direct.n_right_to_wrong + direct.n_wrong_to_right > 100
    titles = [b.title for b in report.runs[1].breakdowns]
    assert titles == ["Accuracy per function", "F1 per slot"]
    functions = {r[0]: r for r in report.runs[1].breakdowns[0].rows}
    assert sum(r[1] for r in functions.values()) == 150
    full_functions = report.runs[0].breakdowns[0].rows
    assert all(r[2] == 1.0 for r in full_functions)  # the full lookup is exact on every function


def test_three_runs_are_each_paired_with_the_reference(viggo: dict[str, object]) -> None:
    store = Store(viggo["db"])
    full, tenth, half = (store.get_run(str(viggo[k])) for k in ("full", "tenth", "half"))
    report = build_report(store, [full, tenth, half])
    assert [(c.a.id, c.b.id) for c in report.comparisons] == [(full.id, tenth.id), (full.id, half.id)]
    direct = compare_runs(store, full, half, limit=100_000)
    assert [(m.metric, m.difference, m.p_value) for m in report.comparisons[1].metrics] == [
        (m.metric, m.difference, m.p_value) for m in direct.metrics
    ]
    flips = [run["flips"] for run in browser_data(report)["runs"]]
    assert flips[0] == {}, "the reference has one set of flips per comparison: none is shown"
    assert len(flips[1]) == len(report.comparisons[0].flips) and len(flips[2]) == direct.n_right_to_wrong + (
        direct.n_wrong_to_right
    )
    md = render_markdown(report, worst=0)
    assert md.count(" vs ") == 2 and md.count("paired on 150 examples") == 2
    chosen = build_report(store, [full, tenth, half], reference=tenth)
    assert [(c.a.id, c.b.id) for c in chosen.comparisons] == [(tenth.id, full.id), (tenth.id, half.id)]
    with pytest.raises(UsageError, match="not one of the runs reported"):
        build_report(store, [full, half], reference=tenth)
    cli = fteval_run("report", full.id, tenth.id, half.id, "--reference", tenth.id, "--md", "-", store=viggo["db"])
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.count(f"vs {chosen.name_of(tenth.id)} (A), paired on 150 examples") == 2
    assert chosen.name_of(tenth.id) == f"lookup (baseline) · {tenth.id}"  # three runs of one target: ids added


def test_markdown_has_the_main_table_comparison_and_worst_examples(viggo: dict[str, object]) -> None:
    store = Store(viggo["db"])
    report = build_report(store, [store.get_run(str(viggo["full"])), store.get_run(str(viggo["tenth"]))])
    md = render_markdown(report, worst=3)
    header = md.splitlines()[2]
    assert header.startswith("| target | model | n | char_exact | exact_match |") and "latency p50 / p95" in header
    tenth = report.runs[1].row.metrics["exact_match"]
    assert f"{tenth.value:.3f} [{tenth.ci_low:.3f}, {tenth.ci_high:.3f}]" in md
    assert "vs" in md and "right->wrong" in md
    wrong = sum(report.runs[1].wrong(e) for e in report.runs[1].examples)
    name = report.runs[1].row.name
    assert name == f"lookup (baseline) · {viggo['tenth']}"  # both runs are of target lookup
    assert f"{name}: {wrong} of 150 wrong on char_exact; the worst 3" in md


def test_html_is_self_contained_with_a_hashed_script(viggo: dict[str, object]) -> None:
    pytest.importorskip("matplotlib")
    store = Store(viggo["db"])
    report = build_report(store, [store.get_run(str(viggo["full"])), store.get_run(str(viggo["tenth"]))])
    page = render_html(report)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    script = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(script) == 1
    digest = base64.b64encode(hashlib.sha256(script[0].encode()).digest()).decode()
    assert "default-src 'none'" in page and f"script-src 'sha256-{digest}'" in page
    # plots: trade-off, plus one per breakdown with a plot (2 per run); no loss curves for lookups
    assert page.count("<svg") == 1 + 4
    data = json.loads(re.search(r'id="fteval-data">(.*?)</script>', page, re.S)[1])
    assert [len(r["rows"]) for r in data["runs"]] == [150, 150]
    assert [f["name"] for f in data["runs"][1]["facets"]] == ["function", "slot"]
    assert len(data["runs"][1]["flips"]) == len(report.comparisons[0].flips)


@pytest.mark.fast
def test_output_that_looks_like_html_stays_data(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    store = Store(tmp_path / "r.db")
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    run = hand_made_run(store, [Row("a", evil, scores={"exact_match": 0.0}, user=evil)])
    page = render_html(build_report(store, [store.get_run(run)]))
    assert "<script>alert" not in page and "<img src=x" not in page
    data = json.loads(re.search(r'id="fteval-data">(.*?)</script>', page, re.S)[1])
    assert evil in data["strings"]


@pytest.mark.fast
def test_cli_reports_a_spec_as_the_latest_run_of_each_target(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    out = fteval_run("report", str(SPECS / "yesno.yaml"), "--md", "-", store=store)
    assert out.returncode == 0, out.stderr
    assert "| lookup (baseline) | lookup (trained) | 20 | 0.500 [0.299, 0.701] |" in out.stdout
    assert "| gold \\\\ predicted | yes | no |" in out.stdout and "| no | 10 | 0 |" in out.stdout
    missing = fteval_run("report", "no-such-run", store=store)
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr


def test_markdown_only_imports_no_matplotlib(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    code = (
        "import sys\nfrom fteval.cli import main\n"
        f"try:\n    main(['--store', {str(store)!r}, 'report', '--md', {str(tmp_path / 'r.md')!r}], standalone_mode=False)\n"
        "except SystemExit:\n    pass\nprint('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
    assert (tmp_path / "r.md").read_text().startswith("## fteval report")


@pytest.mark.fast
def test_sql_report_breaks_down_by_query_feature_and_error_kind(tmp_path: Path) -> None:
    val = SPECS / "data" / "sql" / "val.json"
    spec = tmp_path / "sql.yaml"
    spec.write_text(
        f"fteval: 1\nextends: {SPECS / 'base' / 'sql.yaml'}\n"
        f"dataset:\n  train: {{path: {val}, limit: 20}}\n  eval: {{path: {val}, limit: 40}}\n"
        "metrics: [{name: execution_accuracy, processes: 0}, valid_sql_rate]\n"
        "targets:\n  lookup: {trainer: lookup}\n",
        encoding="utf-8",
    )
    store = Store(tmp_path / "r.db")
    run = store.get_run(Engine(load_spec(spec), store, tmp_path).run("lookup"))
    report = build_report(store, [run])
    by_feature, by_kind = report.runs[0].breakdowns
    kinds = {r[0]: r[1] for r in by_kind.rows}
    executed = report.runs[0].row.metrics["execution_accuracy"]
    assert kinds["correct"] == round(executed.value * 40) >= 20  # the 20 memorised rows run right
    assert sum(kinds.values()) == 40 and kinds.get("not executable", 0) > 0  # the fallback query elsewhere
    features = {r[0]: r for r in by_feature.rows}
    assert by_feature.columns[2] == "execution_accuracy"
    assert sum(features[f][1] for f in ("1 table", "2 tables", "3+ tables") if f in features) == 40
    md = render_markdown(report)
    assert "lookup (baseline): Outcomes by error kind" in md and f"| correct | {kinds['correct']} |" in md


@pytest.mark.fast
def test_rows_that_would_read_the_same_carry_their_run_id(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    first = hand_made_run(store, [Row("a", "a", scores={"exact_match": 1.0})], spec_name="one")
    second = hand_made_run(store, [Row("a", "b", scores={"exact_match": 0.0})], spec_name="two")
    report = build_report(store, [store.get_run(first), store.get_run(second)], compare=False)
    assert [r.row.name for r in report.runs] == [f"t · {first}", f"t · {second}"]
    md = render_markdown(report)
    assert "| parse rate |" in md.splitlines()[2]  # no parse_rate metric: the report computes it


def test_html_without_matplotlib_names_the_extra_to_install(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    code = (
        "import sys\nsys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from fteval.cli import main\n"
        f"main(['--store', {str(store)!r}, 'report', '--html', {str(tmp_path / 'r.html')!r}])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 1 and "pip install 'fteval[report]'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.fast
def test_a_run_on_other_examples_gets_a_note_instead_of_a_comparison(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    a = hand_made_run(store, [Row("a", "a", scores={"exact_match": 1.0})], target="first")
    b = hand_made_run(store, [Row("b", "b", scores={"exact_match": 1.0})], target="second")
    report = build_report(store, [store.get_run(a), store.get_run(b)])
    assert report.comparisons == []
    (note,) = report.comparison_notes
    assert note.startswith("second against first: no paired comparison: ")
    assert note in render_markdown(report, worst=0)
