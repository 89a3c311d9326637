"""fteval compare, the regression gate, tags, labels and run references, on real lookup runs of ViGGO.

The lookup baseline memorises its training rows, so evaluating on (a shuffled sample of) the
training file gives models of known quality: trained on all rows it is right everywhere; trained
on a tenth it is right on about a tenth.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fteval_testutil import SPECS, fteval_run

from fteval.analysis.compare import compare_runs
from fteval.errors import UsageError
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.refs import resolve_pair, resolve_run
from fteval.storage.store import Store

DATA = SPECS / "data" / "viggo"
METRICS = "[exact_match, function_accuracy, slot_f1, parse_rate]"


def _spec(
    directory: Path, name: str, *, train_limit: int | None = None, eval_limit: int = 300, shuffle: bool = True
) -> Path:
    train = f"{{path: {DATA / 'train.csv'}{f', limit: {train_limit}' if train_limit else ''}}}"
    path = directory / f"{name}-{train_limit}-{eval_limit}-{shuffle}.yaml"
    path.write_text(
        f"fteval: 1\nextends: {SPECS / 'base' / 'viggo.yaml'}\nname: {name}\nmetrics: {METRICS}\n"
        f"dataset:\n  train: {train}\n  valid: null\n"
        f"  eval: {{path: {DATA / 'train.csv'}, shuffle: {str(shuffle).lower()}, seed: 1, limit: {eval_limit}}}\n"
        "targets:\n  lookup: {trainer: lookup}\n",
        encoding="utf-8",
    )
    return path


def _run(store: Store, spec: Path, *, rerun: bool = False, label: str | None = None) -> str:
    run_id = Engine(load_spec(spec), store, store.path.parent).run("lookup", rerun=rerun)
    if label:
        store.set_label(run_id, label)
    return run_id


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A store with: reg full (v1), reg tenth (v2), reg full again; small full / small 28 rows; short eval."""
    home = tmp_path_factory.mktemp("compare")
    store = Store(home / "runs.db")
    ids = {
        "full": _run(store, _spec(home, "reg"), label="v1"),
        "tenth": _run(store, _spec(home, "reg", train_limit=510), label="v2"),
        "full_again": _run(store, _spec(home, "reg"), rerun=True),
        "small_full": _run(store, _spec(home, "small", eval_limit=30, shuffle=False)),
        "small_28": _run(store, _spec(home, "small", train_limit=28, eval_limit=30, shuffle=False)),
        "short": _run(store, _spec(home, "short", eval_limit=290)),
    }
    store.close()
    return {"db": home / "runs.db", "home": home, **ids}


@pytest.fixture
def db(built: dict[str, object], tmp_path: Path) -> Path:
    """A private copy of the built store, for tests that change it."""
    copy = tmp_path / "runs.db"
    shutil.copy(built["db"], copy)
    return copy


@pytest.mark.fast
def test_full_vs_tenth_is_flagged_and_exits_1(built: dict[str, object], tmp_path: Path) -> None:
    md = tmp_path / "summary.md"
    out = fteval_run(
        "compare",
        "v1",
        "v2",
        "--fail-if-worse",
        "exact_match",
        "--fail-if-worse",
        "slot_f1=0.05",
        "--md",
        str(md),
        "--limit",
        "2",
        store=built["db"],
    )
    assert out.returncode == 1, out.stderr
    assert "exact_match: FAILED" in out.stdout and "slot_f1: FAILED" in out.stdout
    assert re.search(r"flips on exact_match: \d{3} right->wrong, 0 wrong->right", out.stdout)
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("gate: FAILED: exact_match of ") and "; slot_f1 of " in last
    text = md.read_text()
    assert text.startswith("### fteval compare: ❌ regression")
    assert f"`{built['full']} (v1)`" in text and f"`{built['tenth']} (v2)`" in text
    assert "| exact_match | 1.000 |" in text and "❌ slot_f1: FAILED" in text
    assert text.count("| right->wrong |") == 2 and "Smallest detectable difference" in text


@pytest.mark.fast
def test_json_parses_and_carries_the_paired_numbers(built: dict[str, object]) -> None:
    out = fteval_run(
        "compare",
        str(built["full"]),
        str(built["tenth"]),
        "--json",
        "--fail-if-worse",
        "exact_match",
        store=built["db"],
    )
    data = json.loads(out.stdout)
    assert out.returncode == 1 and data["failed"] is True and data["n"] == 300
    em = next(m for m in data["metrics"] if m["metric"] == "exact_match")
    assert em["test"] == "mcnemar-exact" and em["binary"] and em["a"] == 1.0
    assert em["difference"] == pytest.approx(em["b"] - em["a"]) and em["ci_low"] <= em["difference"] <= em["ci_high"]
    assert em["a_only"] == round(300 * (em["a"] - em["b"])) and em["b_only"] == 0
    assert data["gates"] == [
        {
            "metric": "exact_match",
            "max_drop": 0.0,
            "drop": pytest.approx(-em["difference"]),
            "p_value": em["p_value"],
            "status": "failed",
        }
    ]


@pytest.mark.fast
def test_micro_f1_is_bootstrapped_with_its_own_aggregate_not_averaged(built: dict[str, object]) -> None:
    store = Store(built["db"])
    a, b = store.get_run(str(built["full"])), store.get_run(str(built["tenth"]))
    cmp = compare_runs(store, a, b)
    f1 = next(m for m in cmp.metrics if m.metric == "slot_f1")
    stored = {agg.metric: agg.value for agg in store.aggregates(b.id)}
    per_example = [e.scores["slot_f1"].value for e in store.examples(b.id)]
    assert f1.method == "aggregate" and f1.test == "paired-bootstrap" and not f1.binary
    assert f1.b == pytest.approx(stored["slot_f1"])  # the micro F1 the run reports
    assert abs(f1.b - sum(per_example) / len(per_example)) > 0.01  # which is not the mean of per-example F1
    assert f1.ci_low <= f1.difference <= f1.ci_high < 0 and f1.p_value < 0.001


@pytest.mark.fast
def test_identical_runs_differ_by_zero_and_pass(built: dict[str, object]) -> None:
    out = fteval_run(
        "compare",
        "--json",
        str(built["full"]),
        str(built["full_again"]),
        "--fail-if-worse",
        "exact_match",
        "--fail-if-worse",
        "slot_f1",
        store=built["db"],
    )
    data = json.loads(out.stdout)
    assert out.returncode == 0 and not data["failed"]
    assert all(m["difference"] == 0 and m["p_value"] == 1.0 for m in data["metrics"])
    assert [g["status"] for g in data["gates"]] == ["passed", "passed"]
    assert data["n_right_to_wrong"] == data["n_wrong_to_right"] == 0
    em = next(m for m in data["metrics"] if m["metric"] == "exact_match")
    assert em["mde"] == pytest.approx(6 / 300)  # no disagreement: only the exact test's floor


@pytest.mark.fast
def test_a_tiny_difference_on_a_small_n_is_inconclusive_and_exits_0(built: dict[str, object], tmp_path: Path) -> None:
    md = tmp_path / "s.md"
    out = fteval_run(
        "compare",
        str(built["small_full"]),
        str(built["small_28"]),
        "--fail-if-worse",
        "exact_match",
        "--md",
        str(md),
        store=built["db"],
    )
    assert out.returncode == 0, out.stderr
    assert re.search(
        r"exact_match: inconclusive: B is worse by 0\.0667, more than 0, but not significant \(p=0\.5000\)", out.stdout
    )
    assert "⚠️ inconclusive" in md.read_text()
    assert "flips on exact_match: 2 right->wrong, 0 wrong->right" in out.stdout


@pytest.mark.fast
def test_runs_on_different_eval_data_are_refused_with_the_count(built: dict[str, object]) -> None:
    out = fteval_run("compare", str(built["full"]), str(built["short"]), store=built["db"])
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "different examples (10 of 300 differ in prompt or gold; A has 300, B has 290)" in out.stderr


@pytest.mark.fast
def test_usage_errors_exit_2(built: dict[str, object]) -> None:
    unknown_run = fteval_run("compare", "v1", "nope", store=built["db"])
    assert unknown_run.returncode == 2 and "no run 'nope'" in unknown_run.stderr
    unknown_metric = fteval_run("compare", "v1", "v2", "--fail-if-worse", "accuracy", store=built["db"])
    assert unknown_metric.returncode == 2 and "'accuracy': not a metric of both runs" in unknown_metric.stderr
    bad_drop = fteval_run("compare", "v1", "v2", "--fail-if-worse", "exact_match=lots", store=built["db"])
    assert bad_drop.returncode == 2 and "MAX_DROP must be a number" in bad_drop.stderr


@pytest.mark.fast
def test_latest_counts_back_in_the_series_of_the_other_run(built: dict[str, object]) -> None:
    store = Store(built["db"])
    # Newest complete run overall is "short"; beside a concrete run, latest follows that run's series.
    assert resolve_run(store, "latest").id == built["short"]
    a, b = resolve_pair(store, "v1", "latest")
    assert (a.id, b.id) == (built["full"], built["full_again"])
    a, b = resolve_pair(store, "latest~2", "latest~1", ("reg", "lookup"))
    assert (a.id, b.id) == (built["full"], built["tenth"])
    a, b = resolve_pair(store, "latest~1", "latest", ("small", None))
    assert (a.id, b.id) == (built["small_full"], built["small_28"])
    with pytest.raises(UsageError, match="has only 3 complete runs"):
        resolve_pair(store, "latest~3", "v1")


@pytest.mark.fast
def test_tags_move_only_with_force_and_show_in_runs(db: Path, built: dict[str, object]) -> None:
    assert fteval_run("tag", "v1", "prod", store=db).stdout.strip() == f"prod -> {built['full']}"
    refused = fteval_run("tag", str(built["tenth"]), "prod", store=db)
    assert refused.returncode == 2 and f"tag 'prod' already points at run {built['full']}" in refused.stderr
    moved = fteval_run("tag", "--force", str(built["tenth"]), "prod", store=db)
    assert moved.returncode == 0 and f"(moved from {built['full']})" in moved.stdout
    listed = fteval_run("runs", store=db).stdout
    assert re.search(rf"{built['tenth']}\s*│ v2, prod", listed)
    bad = fteval_run("tag", "v1", "latest~1", store=db)
    assert bad.returncode == 2 and "invalid tag name" in bad.stderr
    store = Store(db)
    assert resolve_run(store, "prod").id == built["tenth"]


@pytest.mark.fast
def test_run_with_baseline_gates_before_and_after_running(db: Path, built: dict[str, object], tmp_path: Path) -> None:
    home = Path(str(built["home"]))
    tenth = _spec(home, "reg", train_limit=510)
    md = tmp_path / "gate.md"
    gate = ("--baseline", "v1", "--fail-if-worse", "exact_match", "--label", "v3", "--md", str(md))
    # the identical run is reused: its label v2 is not replaced silently, and nothing is gated
    silent = fteval_run("run", str(tenth), *gate, store=db)
    assert silent.returncode == 2 and not md.exists()
    assert f"run {built['tenth']} already carries label 'v2': it was reused" in silent.stderr
    assert "--move-label" in silent.stderr and Store(db).get_run(str(built["tenth"])).label == "v2"
    out = fteval_run("run", str(tenth), *gate, "--move-label", store=db, env_extra={"COLUMNS": "80"})
    assert out.returncode == 1, out.stderr
    assert "exact_match: FAILED" in out.stdout and "❌ exact_match: FAILED" in md.read_text()
    # a CI log: the verdict is the last line, and no table is cut to the 80 columns a pipe is given
    assert out.stdout.strip().splitlines()[-1].startswith("gate: FAILED: exact_match of ")
    assert "…" not in out.stdout and "function_accuracy" in out.stdout
    assert f"`{built['tenth']} (v3)`" in md.read_text()  # asked for: the reused run is relabelled
    n_runs = len(Store(db).list_runs())
    unknown_metric = fteval_run(
        "run", str(tenth), "--baseline", "v1", "--fail-if-worse", "accuracy", "--rerun", store=db
    )
    assert unknown_metric.returncode == 2 and "the spec has no such metric" in unknown_metric.stderr
    unknown_baseline = fteval_run("run", str(tenth), "--baseline", "nope", "--rerun", store=db)
    assert unknown_baseline.returncode == 2 and "no run 'nope'" in unknown_baseline.stderr
    assert len(Store(db).list_runs()) == n_runs  # refused before any model ran
    no_baseline = fteval_run("run", str(tenth), "--fail-if-worse", "exact_match", store=db)
    assert no_baseline.returncode == 2 and "need --baseline" in no_baseline.stderr


def test_report_gates_like_compare_with_the_verdict_last(built: dict[str, object], tmp_path: Path) -> None:
    failed = fteval_run(
        "report", "v1", "v2", "--fail-if-worse", "exact_match", "--md", str(tmp_path / "r.md"), store=built["db"]
    )
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.strip().splitlines()[-1].startswith("gate: FAILED: exact_match of ")
    assert (tmp_path / "r.md").exists()  # the report is written before the gate decides
    passed = fteval_run(
        "report", "v2", "v1", "--fail-if-worse", "exact_match", "--md", str(tmp_path / "p.md"), store=built["db"]
    )
    assert passed.returncode == 0 and passed.stdout.strip().splitlines()[-1].startswith("gate: PASSED: 1 gated metric")
    to_stdout = fteval_run("report", "v1", "v2", "--fail-if-worse", "exact_match", store=built["db"])
    assert to_stdout.returncode == 1 and to_stdout.stderr.strip().splitlines()[-1].startswith("gate: FAILED")
    alone = fteval_run("report", "v1", "--fail-if-worse", "exact_match", store=built["db"])
    assert alone.returncode == 2 and "needs two runs or more" in alone.stderr


@pytest.mark.fast
def test_a_label_on_another_run_moves_only_when_asked(db: Path, built: dict[str, object]) -> None:
    home = Path(str(built["home"]))
    refused = fteval_run("run", str(_spec(home, "reg")), "--rerun", "--label", "v2", store=db)
    assert refused.returncode == 2
    assert f"label 'v2' is on run {built['tenth']} of reg/lookup: choose another label" in refused.stderr
    store = Store(db)
    assert resolve_run(store, "v2").id == built["tenth"]  # still there, still unambiguous
    moved = fteval_run("run", str(_spec(home, "reg")), "--rerun", "--label", "v2", "--move-label", store=db)
    assert moved.returncode == 0, moved.stderr
    newest = store.get_run("latest")
    assert resolve_run(store, "v2").id == newest.id and store.get_run(str(built["tenth"])).label is None


@pytest.mark.fast
def test_a_run_compared_with_itself_is_a_usage_error(built: dict[str, object]) -> None:
    out = fteval_run("compare", "latest", "latest", store=built["db"])
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"A and B are the same run {built['short']}: a run compared with itself shows no difference" in out.stderr
    small = _spec(Path(str(built["home"])), "small", eval_limit=30, shuffle=False)
    gate = fteval_run("run", str(small), "--baseline", str(built["small_full"]), store=built["db"])
    assert gate.returncode == 2 and f"is the baseline run {built['small_full']} itself" in gate.stderr


@pytest.mark.fast
def test_a_store_from_before_labels_and_tags_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from fteval.storage.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        MIGRATIONS[0].script + "; CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at REAL);"
        " INSERT INTO migrations VALUES (1, 0);"
    )
    old.execute(
        "INSERT INTO runs VALUES ('r1', 'k', 's', 'h', '{}', 't', 'lookup', 'lookup', 1, NULL, 'fp', '{}',"
        " '{}', '{}', 0, 0, 'complete', 1.0, 2.0)"
    )
    old.commit()
    old.close()
    store = Store(path)
    run = store.get_run("r1")
    assert (run.label, run.tags) == (None, ())
    store.set_tag("keep", "r1")
    store.set_label("r1", "v0")
    assert store.get_run("keep").id == store.get_run("v0").id == "r1"
