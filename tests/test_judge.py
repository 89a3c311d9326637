"""The ``judge`` metric: a scripted judge target rates outputs; calls recorded, resumable, part of the run's identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_testutil import SCRIPT_PLUGIN, fteval_cli, fteval_run

from fteval.errors import SpecError
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.callstore import load_calls, step_stats
from fteval.storage.store import Store

pytestmark = pytest.mark.usefixtures("script_plugin_path")

ROWS = [
    ("What is the capital of France?", "paris"),
    ("What is two plus two?", "four"),
    ("What colour is grass?", "green"),
    ("What is the largest planet?", "jupiter"),
    ("A confusing question?", "x"),
    ("A silent question?", "y"),
]


def _spec(tmp_path: Path, *, judge_default: str = "Rating: 1", kill: bool = False, metric: str = "") -> Path:
    data = tmp_path / "rows.csv"
    data.write_text("question,answer\n" + "".join(f"{q},{a}\n" for q, a in ROWS), encoding="utf-8")
    kill_lines = (
        f"      kill_on: 'Gold: four'\n      kill_marker: {tmp_path / 'killed'}\n" if kill else ""
    )  # fmt: skip
    metric = metric or (
        "  - name: judge\n    target: judge\n    rubric: 'Q: {{ input }} Gold: {{ reference }} Answer: {{ output }}'\n"
    )
    spec = tmp_path / "judged.yaml"
    spec.write_text(
        f"""fteval: 1
name: judged
dataset: {{train: {{path: {data}}}, eval: {{path: {data}}}}}
prompt: {{user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: text
generation: {{batch_size: 1}}
metrics:
{metric}  - exact_match
targets:
  model:
    trainer: script
    evaluator_only: true
    model:
      rules:
        - {{match: France, reply: [paris]}}
        - {{match: two plus, reply: [four]}}
        - {{match: grass, reply: [green]}}
        - {{match: planet, reply: [saturn]}}
        - {{match: confusing, reply: [confuse]}}
      default: ""
  judge:
    trainer: script
    evaluator_only: true
    model:
      rules:
        - {{match: 'Answer: confuse', reply: ["I cannot say."]}}
        - {{match: 'Gold: (\\w+) Answer: \\1$', reply: ["Rating: 5"]}}
      default: "{judge_default}"
      call_usd: 0.001
      log: {tmp_path / "judge.log"}
{kill_lines}"""
    )
    return spec


def _judge_log(tmp_path: Path) -> list[str]:
    path = tmp_path / "judge.log"
    return [json.loads(line)["user"] for line in path.read_text().splitlines()] if path.exists() else []


def test_judge_rates_outputs_and_leaves_unparsed_replies_out(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    run_id = Engine(load_spec(_spec(tmp_path)), store, tmp_path).run("model")
    examples = store.examples(run_id)
    judged = {e.idx: e.scores["judge"] for e in examples}
    assert [judged[i].value for i in range(4)] == [1.0, 1.0, 1.0, 0.0]
    assert judged[4].value == 0.0 and "judge reply has no rating from 1 to 5: 'I cannot say.'" in (
        judged[4].detail or ""
    )
    assert "judge_unparsed" in judged[4].parts
    assert (judged[5].detail or "").startswith("parse failure") and judged[5].parts == {
        "rating": 1.0
    }  # empty output: lowest, no call
    agg = {a.metric: a for a in store.aggregates(run_id)}["judge"]
    assert agg.value == pytest.approx(0.6) and agg.n == 5 and agg.method.endswith("1 unparsed judge replies")
    calls = load_calls(store, run_id)
    assert len(calls) == 5 and {c.purpose for c in calls} == {"judge"} and {c.step for c in calls} == {"metric:judge"}
    assert calls[0].prompt.user == "Q: What is the capital of France? Gold: paris Answer: paris"
    stats = step_stats(store, run_id)
    assert stats[0].cost_usd == pytest.approx(0.005)
    assert len(_judge_log(tmp_path)) == 5
    # the same run again: complete, nothing called
    assert Engine(load_spec(_spec(tmp_path)), store, tmp_path).run("model") == run_id
    assert len(_judge_log(tmp_path)) == 5
    store.close()


def test_changing_the_judge_or_the_rubric_makes_a_new_run(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    first = Engine(load_spec(_spec(tmp_path)), store, tmp_path).run("model")
    other_judge = Engine(load_spec(_spec(tmp_path, judge_default="Rating: 2")), store, tmp_path).run("model")
    rubric = "  - name: judge\n    target: judge\n    rubric: 'Gold: {{ reference }} Answer: {{ output }}'\n"
    other_rubric = Engine(load_spec(_spec(tmp_path, metric=rubric)), store, tmp_path).run("model")
    assert len({first, other_judge, other_rubric}) == 3
    values = {r: store.examples(r)[3].scores["judge"].value for r in (first, other_judge)}
    assert values == {first: 0.0, other_judge: 0.25}  # rating 1 vs 2: never mixed
    fingerprints = {json.dumps(store.get_run(r).config["judges"]) for r in (first, other_judge)}
    assert len(fingerprints) == 2
    store.close()


def test_a_killed_judged_run_resumes_without_judging_twice(tmp_path: Path) -> None:
    spec = _spec(tmp_path, kill=True)
    db = tmp_path / "runs.db"
    first = fteval_cli("run", str(spec), "-t", "model", store=db, extra_path=SCRIPT_PLUGIN)
    assert first.returncode != 0 and (tmp_path / "killed").exists()
    assert len(_judge_log(tmp_path)) == 1  # the first example was judged and stored before the kill
    second = fteval_run("run", str(spec), "-t", "model", store=db, extra_path=SCRIPT_PLUGIN)
    assert second.returncode == 0, second.stderr
    log = _judge_log(tmp_path)
    assert len(log) == 5 and len(set(log)) == 5  # each output judged once over both processes
    store = Store(db)
    run = store.list_runs("judged")[0]
    assert run.status == "complete" and len(load_calls(store, run.id)) == 5
    store.close()
    shown = fteval_run("show", run.id, "-n", "0", store=db, extra_path=SCRIPT_PLUGIN)
    row = next(line for line in shown.stdout.splitlines() if "metric:judge" in line)
    assert "5 of 6" in row and "0.001000" in row  # the judge's calls, with their cost per call


def test_judge_config_errors_name_the_key(tmp_path: Path) -> None:
    bad_target = "  - {name: judge, target: nobody}\n"
    with pytest.raises(SpecError, match=r"judged.yaml:\d+:\d+: metrics\[0\]\.target: unknown target 'nobody'"):
        load_spec(_spec(tmp_path, metric=bad_target))
    bad_rubric = "  - {name: judge, target: judge, rubric: '{{ answer }} {{ output }}'}\n"
    with pytest.raises(SpecError, match="the rubric reads answer; it can read input, output, reference, row"):
        load_spec(_spec(tmp_path, metric=bad_rubric))
    bad_scale = "  - {name: judge, target: judge, scale: [3, 3]}\n"
    with pytest.raises(SpecError, match="must be above the lowest"):
        load_spec(_spec(tmp_path, metric=bad_scale))
    bad_pattern = "  - {name: judge, target: judge, pattern: 'Rating: \\\\d+'}\n"
    with pytest.raises(SpecError, match="needs a group"):
        load_spec(_spec(tmp_path, metric=bad_pattern))


def test_report_shows_judge_against_human_agreement(tmp_path: Path) -> None:
    import csv

    pytest.importorskip("krippendorff")
    db = tmp_path / "runs.db"
    store = Store(db)
    run_id = Engine(load_spec(_spec(tmp_path)), store, tmp_path).run("model")
    store.close()
    sheet = tmp_path / "sheet.csv"
    out = fteval_run("rate", run_id, "--all", "--csv", str(sheet), store=db, extra_path=SCRIPT_PLUGIN)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(sheet.open(encoding="utf-8")))
    for row in rows[1:]:  # the rater agrees with the judge: 5 for the right answer, 1 otherwise
        row[6] = "5" if row[5] == row[4] else "1"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    out = fteval_run("rate", "import", str(sheet), "--rater", "ann", store=db, extra_path=SCRIPT_PLUGIN)
    assert out.returncode == 0, out.stderr
    report = fteval_run("report", run_id, "--md", "-", store=db, extra_path=SCRIPT_PLUGIN)
    assert report.returncode == 0, report.stderr
    assert "Judge (judge) against the raters: Krippendorff's alpha (ordinal) 1.00" in report.stdout
    assert "on 5 outputs rated by the judge and a rater (2 coders)" in report.stdout  # the unparsed reply is out
