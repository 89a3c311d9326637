"""`fteval show`: which examples are wrong (in the metric's direction) and which run `latest` names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fteval_testutil import SPECS, make_run
from report_helpers import Row, hand_made_run

from fteval.analysis.compare import compare_runs
from fteval.cli import main
from fteval.plugin import Aggregate, Score
from fteval.report.model import build_report
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.records import ExampleRecord
from fteval.storage.store import Store


def _show(db: Path, *args: str) -> Result:
    """``fteval --store DB show ARGS`` in this process."""
    return CliRunner().invoke(main, ["--store", str(db), "show", *args])


def _show_json(db: Path, *args: str) -> dict:
    result = _show(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _yesno_run(tmp_path: Path, metrics: str) -> tuple[Path, str]:
    """A lookup run on memorised train rows (right) and unseen rows (answered 'yes', the majority: some wrong)."""
    train = (SPECS / "data/yesno/train.csv").read_text().splitlines()
    test = (SPECS / "data/yesno/test.csv").read_text().splitlines()
    (tmp_path / "eval.csv").write_text("\n".join(train[:11] + test[1:]) + "\n")
    spec = tmp_path / "lower.yaml"
    spec.write_text(
        f"extends: {SPECS / 'yesno.yaml'}\nname: lower\ndataset: {{eval: {{path: eval.csv}}}}\nmetrics: {metrics}\n"
    )
    db = tmp_path / "runs.db"
    store = Store(db)
    run_id = Engine(load_spec(spec), store, tmp_path).run("lookup")
    store.close()
    return db, run_id


@pytest.mark.usefixtures("external_plugin_path")
def test_show_wrong_lists_the_wrong_examples_of_a_metric_where_lower_is_better(tmp_path: Path) -> None:
    # mismatch (the external test plugin): 0 when the answer is right, 1 when it is wrong; lower is better
    db, run_id = _yesno_run(tmp_path, "[mismatch, exact_match]")
    shown = _show_json(db, run_id)
    assert shown["primary"] == {"name": "mismatch", "higher_is_better": False}
    every = shown["examples"]
    wrong = _show_json(db, run_id, "--wrong")["examples"]
    expected = [e["idx"] for e in every if e["parse_ok"] and e["scores"]["exact_match"]["value"] == 0.0]
    assert 0 < len(expected) < len(every), "the data must give right and wrong answers"
    assert [e["idx"] for e in wrong] == expected
    assert all(e["scores"]["mismatch"]["value"] == 1.0 for e in wrong)
    # the report calls the same examples wrong (it adds parse failures, which show lists under --failures)
    store = Store(db)
    report = build_report(store, [store.get_run(run_id)], compare=False).runs[0]
    assert report.primary == "mismatch" and not report.higher_is_better
    assert [e.idx for e in report.examples if report.wrong(e) and e.parse_ok] == expected
    text = _show(db, run_id, "--wrong", "-n", "1").output
    assert f"#{expected[0]} " in text and "mismatch: 1 (" in text


def _example(idx: int, scores: dict[str, float]) -> ExampleRecord:
    return ExampleRecord(
        idx, {"user": "q"}, "g", "o", True, "o", None, 0.1, 1, 1, None, False, {m: Score(v) for m, v in scores.items()}
    )


def test_is_right_is_a_perfect_score_in_the_metrics_direction() -> None:
    higher, lower = _example(0, {"m": 1.0}), _example(1, {"m": 0.0})
    assert higher.is_right("m", higher_is_better=True) and not higher.is_right("m", higher_is_better=False)
    assert lower.is_right("m", higher_is_better=False) and not lower.is_right("m", higher_is_better=True)
    assert _example(2, {"m": 0.5}).is_right("m", True) is False is _example(2, {"m": 0.5}).is_right("m", False)
    assert higher.is_right("other", higher_is_better=True) is None  # not scored on it


@pytest.mark.usefixtures("external_plugin_path")
def test_compare_flips_and_the_report_use_the_same_direction(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    rows = [("a", "a"), ("b", "b"), ("c", "c")]
    # A is right on 0 and 1, B on 1 and 2: example 0 went right -> wrong, example 2 wrong -> right
    a = hand_made_run(
        store,
        [Row(g, o, scores={"mismatch": v}) for (g, o), v in zip(rows, (0.0, 0.0, 1.0), strict=True)],
        metrics=("mismatch",),
    )
    b = hand_made_run(
        store,
        [Row(g, o, scores={"mismatch": v}) for (g, o), v in zip(rows, (1.0, 0.0, 0.0), strict=True)],
        metrics=("mismatch",),
        target="u",
    )
    cmp = compare_runs(store, store.get_run(a), store.get_run(b))
    assert cmp.flips_metric == "mismatch" and (cmp.n_right_to_wrong, cmp.n_wrong_to_right) == (1, 1)
    assert {f.idx: f.direction for f in cmp.flips} == {0: "right->wrong", 2: "wrong->right"}
    report = build_report(store, [store.get_run(a), store.get_run(b)])
    assert [[e.idx for e in r.examples if r.wrong(e)] for r in report.runs] == [[2], [0]]
    shown = _show_json(tmp_path / "runs.db", b, "--wrong")["examples"]
    assert [e["idx"] for e in shown] == [0]


def _complete(store: Store, key: str) -> str:
    run_id = make_run(store, key, n_examples=1)
    store.save_examples(run_id, [_example(0, {"exact_match": 1.0})], [])
    store.finish_run(run_id, {"exact_match": Aggregate(1.0, 0.2, 1.0, 1, "wilson")})
    return run_id


def test_show_resolves_latest_through_refs_the_newest_complete_run_of_a_series(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = Store(db)
    older, newer = _complete(store, "k1"), _complete(store, "k2")
    running = make_run(store, "k3")  # started last and still running (this process holds it)
    assert store.get_run(running).status == "running"
    store.close()
    assert _show_json(db, "latest")["run"]["id"] == newer
    assert _show_json(db, "latest~1")["run"]["id"] == older
    assert _show_json(db, running)["run"]["status"] == "running"  # a running run by its id, as before
    beyond = _show(db, "latest~2")
    assert beyond.exit_code == 2 and "spec 's' target 't' has only 2 complete runs" in beyond.output
    unknown = _show(db, "nope")
    assert unknown.exit_code == 2 and "no run 'nope'" in unknown.output


def test_show_latest_without_a_complete_run_names_the_newest_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = Store(db)
    running = make_run(store, "k1")
    store.close()
    result = _show(db, "latest")
    assert result.exit_code == 2 and f"no complete run in {db}; the newest run, {running}, is running" in result.output
