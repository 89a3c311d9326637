"""Pipeline targets end to end on the scripted test model: steps, conditions, votes, records, resume, identity."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from fteval_testutil import SCRIPT_PLUGIN, fteval_cli, fteval_run

from fteval.plugin import Parsed
from fteval.running.engine import Engine
from fteval.running.pipeline import majority
from fteval.spec.loader import load_spec
from fteval.storage.callstore import load_calls, step_stats
from fteval.storage.store import Store

pytestmark = pytest.mark.usefixtures("script_plugin_path")

TRAIN = "question,answer\nIs a dog a mammal?,yes\nIs a shark a mammal?,no\nIs a trout a mammal?,no\n"
EVAL = "question,answer\nIs a cat a mammal?,yes\nIs a trout a mammal?,no\nIs a bat a mammal?,yes\n"

SELF_CORRECTING = """
      steps:
        - name: draft
          user: "Q: {{ question }}"
          checks: [format_rate]
        - name: fix
          when: "steps.draft.checks.format_rate < 1"
          user: "Answer yes or no. Q: {{ question }} Draft: {{ steps.draft.answer }}"
"""


def _spec(tmp_path: Path, pipeline: str = SELF_CORRECTING, extra_model: str = "") -> Path:
    (tmp_path / "train.csv").write_text(TRAIN)
    (tmp_path / "eval.csv").write_text(EVAL)
    log = tmp_path / "model.log"
    spec = tmp_path / "pipe.yaml"
    spec.write_text(
        f"""fteval: 1
name: pipe
dataset: {{train: {{path: train.csv}}, eval: {{path: eval.csv}}}}
prompt: {{user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: {{name: choice, labels: ["yes", "no"]}}
metrics: [accuracy, format_rate]
targets:
  script:
    trainer: script
    evaluator_only: true
    model: &model
      rules:
        - {{match: "Draft: maybe", reply: ["no"]}}
        - {{match: "^Q: Is a cat", reply: ["yes"]}}
        - {{match: "^Q: Is a trout", reply: ["maybe"]}}
        - {{match: "^Q: Is a bat", reply: ["no"]}}
        - {{match: "^Vote", reply: ["yes", "no", "yes"]}}
        - {{match: "^Tie", reply: ["no", "yes"]}}
        - {{match: "^Shots: (.*)", reply: ["\\\\1"]}}
      default: "yes"
      latency_s: 0.25
      call_usd: 0.001
      log: {log}{extra_model}
  pipe:
    trainer: script
    evaluator_only: true
    model: *model
    pipeline:{pipeline}"""
    )
    return spec


def _engine(spec: Path, tmp_path: Path) -> Engine:
    return Engine(load_spec(spec), Store(tmp_path / "runs.db"), tmp_path)


def _model_log(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "model.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_steps_run_in_order_and_a_conditional_step_only_when_its_condition_holds(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path), tmp_path)
    run_id = engine.run("pipe")
    examples = engine.store.examples(run_id)
    assert [e.output for e in examples] == ["yes", "no", "no"]  # trout corrected by `fix`; bat stays wrong
    assert examples[1].prompt["user"] == "Is a trout a mammal?"  # the spec's prompt: runs pair on it
    calls = load_calls(engine.store, run_id)
    assert calls[2].prompt.user == "Answer yes or no. Q: Is a trout a mammal? Draft: maybe"
    assert [(c.index, c.step) for c in calls] == [(0, "draft"), (1, "draft"), (1, "fix"), (2, "draft")]
    aggregates = {a.metric: a.value for a in engine.store.aggregates(run_id)}
    assert aggregates == {"accuracy": pytest.approx(2 / 3), "format_rate": 1.0}
    # per question: two calls for the corrected row, latency the sum over its steps
    assert [e.latency_s for e in examples] == [0.25, 0.5, 0.25]
    assert examples[1].cost_usd == pytest.approx(0.002) and examples[1].completion_tokens == 2
    assert examples[1].prompt_tokens == len("Q: Is a trout a mammal?".split()) + len(calls[2].prompt.user.split())
    stats = {s.step: s for s in step_stats(engine.store, run_id)}
    assert (stats["draft"].examples, stats["draft"].calls) == (3, 3)
    assert (stats["fix"].examples, stats["fix"].calls) == (1, 1)


def test_a_rerun_is_answered_from_the_records_and_the_cache(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    first = _engine(spec, tmp_path)
    run_a = first.run("pipe")
    again = _engine(spec, tmp_path)
    run_b = again.run("pipe", rerun=True)
    assert run_b != run_a and again.model_calls == 0
    assert all(e.cached for e in again.store.examples(run_b))
    assert len(_model_log(tmp_path)) == 4


def test_self_consistency_votes_on_parsed_answers_and_breaks_ties_to_the_earliest_sample(tmp_path: Path) -> None:
    pipeline = """
      steps:
        - name: vote
          user: "Vote {{ question }}"
          samples: 3
          generation: {temperature: 0.7, seed: 10}
        - name: tie
          user: "Tie {{ question }}"
          samples: 2
          generation: {temperature: 0.7, seed: 0}
          when: "steps.vote.answer == 'yes'"
"""
    engine = _engine(_spec(tmp_path, pipeline), tmp_path)
    run_id = engine.run("pipe")
    # seeds 10, 11, 12 pick replies 10 % 3, 11 % 3, 12 % 3 = yes, yes, no -> yes; the tie (no, yes) -> no
    assert {e.output for e in engine.store.examples(run_id)} == {"no"}
    calls = load_calls(engine.store, run_id, [0])
    assert [(c.step, c.number, c.generation.text) for c in calls] == [
        ("vote", 0, "no"),
        ("vote", 1, "yes"),
        ("vote", 2, "yes"),
        ("tie", 0, "no"),
        ("tie", 1, "yes"),
    ]
    # samples of one step count once in latency: two steps of 0.25 s each
    assert engine.store.examples(run_id)[0].latency_s == 0.5


def test_majority_ignores_failed_parses_and_ties_go_to_the_earliest() -> None:
    ok, bad = Parsed(True, "a"), Parsed.fail("x")
    assert majority([bad, Parsed(True, "b"), ok, ok]) == 2
    assert majority([Parsed(True, "b"), ok]) == 0
    assert majority([bad, bad]) == 0
    assert majority([bad, ok, Parsed(True, "b")]) == 1


def test_shots_are_rendered_into_the_step_and_never_show_an_eval_question(tmp_path: Path) -> None:
    pipeline = """
      shots: {k: 3, select: similar}
      steps:
        - name: answer
          user: "Shots: {% for s in shots %}{{ s.prompt }}={{ s.target }};{% endfor %}"
"""
    engine = _engine(_spec(tmp_path, pipeline), tmp_path)
    run_id = engine.run("pipe")
    outputs = [e.output for e in engine.store.examples(run_id)]
    # "Is a trout a mammal?" is an eval question: it is never a shot, though it is in train
    assert all("trout" not in o for o in outputs)
    assert outputs[0] == "Is a dog a mammal?=yes;Is a shark a mammal?=no;"


def test_a_changed_step_template_is_a_new_run_but_not_a_new_training_job(tmp_path: Path) -> None:
    engine = _engine(_spec(tmp_path), tmp_path)
    run_a = engine.run("pipe")
    changed = tmp_path / "changed.yaml"
    changed.write_text((tmp_path / "pipe.yaml").read_text().replace("Answer yes or no.", "Reply yes or no."))
    other = _engine(changed, tmp_path)
    assert other.job_key("pipe") == engine.job_key("pipe")
    run_b = other.run("pipe")
    assert engine.store.get_run(run_b).run_key != engine.store.get_run(run_a).run_key
    assert other.store.get_run(run_b).config["pipeline"]["definition"]["steps"][1]["user"].startswith("Reply")


def test_a_run_killed_between_steps_resumes_at_the_step_and_repeats_no_call(tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    kill = f'\n      kill_on: "Draft:"\n      kill_marker: {marker}'
    spec = _spec(tmp_path, extra_model=kill)
    store = tmp_path / "cli.db"
    killed = fteval_cli("run", str(spec), "-t", "pipe", store=store, extra_path=SCRIPT_PLUGIN)
    assert killed.returncode == -signal.SIGKILL and marker.exists()
    made = _model_log(tmp_path)
    assert [m["user"] for m in made] == ["Q: Is a cat a mammal?", "Q: Is a trout a mammal?", "Q: Is a bat a mammal?"]
    resumed = fteval_run("run", str(spec), "-t", "pipe", store=store, extra_path=SCRIPT_PLUGIN)
    assert resumed.returncode == 0, resumed.stderr
    users = [m["user"] for m in _model_log(tmp_path)]
    assert len(users) == len(set(users)) == 4 and users[3].startswith("Answer yes or no.")
    s = Store(store)
    run = s.list_runs(target="pipe")[0]
    assert run.status == "complete" and [e.output for e in s.examples(run.id)] == ["yes", "no", "no"]
    assert [(c.index, c.step, c.cached) for c in load_calls(s, run.id)] == [
        (0, "draft", False),
        (1, "draft", False),
        (1, "fix", False),
        (2, "draft", False),
    ]


def _issues(spec: Path) -> list[str]:
    from fteval.errors import SpecError

    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize(
    ("steps", "line", "message"),
    [
        (
            '\n        - {name: a, user: "{{ steps.nope.answer }}"}',
            30,
            "step 'a' reads steps.nope, but the pipeline has no step 'nope'; steps: a",
        ),
        (
            '\n        - {name: a, user: "{{ question }}"}\n        - {name: b, user: "{{ steps.c.answer }}"}'
            '\n        - {name: c, user: "{{ steps.a.answer }}"}',
            31,
            "step 'b' reads steps.c, the output of a step that runs later",
        ),
        (
            '\n        - {name: a, user: "{{ steps.b.answer }}"}\n        - {name: b, user: "{{ steps.a.answer }}"}',
            30,
            "step 'a' reads steps.b: a cycle of steps (a -> b -> a)",
        ),
        (
            '\n        - {name: a, user: "{{ question }}", when: "steps.a.ok"}',
            30,
            "step 'a' reads its own output (steps.a)",
        ),
        (
            '\n        - {name: a, user: "{{ answer }}"}',
            30,
            "template variable 'answer' is the gold answer's column",
        ),
        (
            '\n        - {name: a, user: "{{ question }}", target: nobody}',
            30,
            "no target 'nobody' in the spec",
        ),
        (
            '\n        - {name: a, user: "{{ question }}", samples: 3}',
            30,
            "3 samples at temperature 0 are the same answer",
        ),
        (
            '\n        - {name: a, user: "{{ question }}"}\n        - {name: b, user: "x", when: "steps.a.checks.format_rate < 1"}',
            31,
            "step 'b' reads steps.a.checks.format_rate, but step 'a' does not check 'format_rate'; its checks: none",
        ),
        (
            '\n        - {name: a, user: "{{ question }}", checks: [bleu]}',
            30,
            "no metric 'bleu' in the spec; metrics: accuracy, format_rate",
        ),
    ],
)
def test_bad_pipelines_fail_validate_with_file_and_line(tmp_path: Path, steps: str, line: int, message: str) -> None:
    spec = _spec(tmp_path, "\n      steps:" + steps)
    issues = _issues(spec)
    assert any(f"{spec}:{line}:" in i and message in i for i in issues), issues


def test_show_compare_report_and_plan_give_per_step_statistics(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    engine = _engine(spec, tmp_path)
    plain, pipe = engine.run("script"), engine.run("pipe")
    store = tmp_path / "runs.db"
    shown = fteval_run("show", pipe, store=store, extra_path=SCRIPT_PLUGIN)
    assert shown.returncode == 0, shown.stderr
    assert "pipeline steps (4 calls; per question 1.33 calls" in shown.stdout
    fix_line = next(line for line in shown.stdout.splitlines() if "│ fix" in line)
    assert "1 of 3 (33%)" in fix_line and "0.001000" in fix_line
    as_json = json.loads(fteval_run("show", pipe, "--json", store=store, extra_path=SCRIPT_PLUGIN).stdout)
    assert [(s["step"], s["examples"], s["calls"]) for s in as_json["steps"]] == [("draft", 3, 3), ("fix", 1, 1)]
    # the pipeline pairs with the plain target on the same questions
    compared = fteval_run("compare", plain, pipe, store=store, extra_path=SCRIPT_PLUGIN)
    assert "3 examples with identical prompts and golds" in compared.stdout
    assert "pipeline steps" in compared.stdout
    report = fteval_run("report", plain, pipe, store=store, extra_path=SCRIPT_PLUGIN)
    assert report.returncode == 0, report.stderr
    assert "### pipe: pipeline steps" in report.stdout and "| fix | 1 of 3 (33%) | 1 | 0 | 12 / 1 |" in report.stdout
    html = tmp_path / "report.html"
    assert fteval_run("report", plain, pipe, "--html", str(html), store=store, extra_path=SCRIPT_PLUGIN).returncode == 0
    page = html.read_text()
    assert '<section id="steps"><h2>Pipeline steps</h2>' in page and "<td>1 of 3 (33%)</td>" in page
    planned = fteval_run("plan", str(spec), "-t", "pipe", store=store, extra_path=SCRIPT_PLUGIN)
    assert planned.returncode == 0, planned.stderr
    assert "pipeline per question: 2 calls" in planned.stdout
    assert (
        "step fix on pipe: 1 call(s)" in planned.stdout
        and "conditional: counted as running on every row" in planned.stdout
    )


def test_a_template_failing_on_a_bad_output_fails_that_row_only(tmp_path: Path) -> None:
    pipeline = """
      steps:
        - {name: draft, user: "Q: {{ question }}"}
        - {name: shout, user: "Shots: {{ steps.draft.parsed.upper() }}"}
"""
    engine = _engine(_spec(tmp_path, pipeline), tmp_path)
    run_id = engine.run("pipe")
    assert engine.store.get_run(run_id).status == "complete"
    # trout's draft ("maybe") does not parse: `parsed` is None and its template fails; the others go on
    assert [e.output for e in engine.store.examples(run_id)] == ["YES", "", "NO"]
    assert [c.step for c in load_calls(engine.store, run_id, [1])] == ["draft"]


def test_a_typo_in_a_steps_generation_gets_a_did_you_mean(tmp_path: Path) -> None:
    spec = _spec(tmp_path, '\n      steps:\n        - {name: a, user: "{{ question }}", generation: {temprature: 0.7}}')
    issues = _issues(spec)
    assert any(
        f"{spec}:30:" in i
        and "steps[0].generation.temprature: unknown key 'temprature' (did you mean 'temperature'?); allowed: " in i
        for i in issues
    ), issues


def test_an_answer_regex_runs_in_linear_time_on_what_a_model_wrote(tmp_path: Path) -> None:
    """A spec from another team cannot hang a run with a backtracking pattern: (a+)+$ on 40 a's and a '!'."""
    pipeline = (
        "\n      steps:\n        - name: a\n          user: \"Shots: {{ 'a' * 40 }}!\"\n"
        '          answer_regex: "(a+)+$"'
    )
    spec = _spec(tmp_path, pipeline)
    out = fteval_cli("run", str(spec), "-t", "pipe", store=tmp_path / "r.db", extra_path=SCRIPT_PLUGIN, timeout=60)
    assert out.returncode == 0, out.stderr
    store = Store(tmp_path / "r.db")
    try:
        (run,) = [r for r in store.list_runs() if r.target == "pipe"]
        assert [e.output for e in store.examples(run.id)] == ["", "", ""]  # no match: an empty answer
    finally:
        store.close()
