"""``fteval judge A B``: a scripted judge picks the better output in both orders; win/tie/loss, order disagreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_testutil import SCRIPT_PLUGIN, fteval_run

from fteval.analysis.pairwise import judge_pair
from fteval.errors import UsageError
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("script_plugin_path")]

QUESTIONS = ["capital of France", "two plus two", "colour of grass", "largest planet", "confusing one", "silent one"]
GOLD = ["paris", "four", "green", "jupiter", "x", "y"]
A = ["paris", "four", "green", "saturn", "confuse", ""]
B = ["paris", "five", "green", "jupiter", "confused", "y"]
RUBRIC = "Q: {{ input }} | Gold: {{ reference }} | 1: {{ output_1 }} | 2: {{ output_2 }}"


def _rules(answers: list[str]) -> str:
    return "".join(f"        - {{match: '{q}', reply: ['{a}']}}\n" for q, a in zip(QUESTIONS, answers, strict=True))


def _spec(tmp_path: Path) -> Path:
    data = tmp_path / "rows.csv"
    data.write_text("question,answer\n" + "".join(f"{q},{g}\n" for q, g in zip(QUESTIONS, GOLD, strict=True)))
    spec = tmp_path / "pair.yaml"
    spec.write_text(
        f"""fteval: 1
name: pair
dataset: {{train: {{path: {data}}}, eval: {{path: {data}}}}}
prompt: {{user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: text
targets:
  a:
    trainer: script
    evaluator_only: true
    model:
      rules:
{_rules(A)}  b:
    trainer: script
    evaluator_only: true
    model:
      rules:
{_rules(B)}  judge:
    trainer: script
    evaluator_only: true
    model:
      rules:
        - {{match: 'grass', reply: ['hmm']}}
        - {{match: 'confusing', reply: ['Winner: 1']}}
        - {{match: 'Gold: (\\w+) \\| 1: \\1 \\| 2: (?!\\1)', reply: ['Winner: 1']}}
        - {{match: 'Gold: (\\w+) \\| 1: (?!\\1\\b).* \\| 2: \\1$', reply: ['Winner: 2']}}
      default: 'Winner: tie'
      call_usd: 0.001
      log: {tmp_path / "judge.log"}
"""
    )
    return spec


def test_both_orders_win_tie_loss_and_order_disagreement(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    engine = Engine(load_spec(_spec(tmp_path)), store, tmp_path)
    run_a, run_b = (store.get_run(engine.run(t)) for t in ("a", "b"))
    result = judge_pair(engine, run_a, run_b, "judge", rubric=RUBRIC)
    outcomes = {v.idx: v.outcome for v in result.verdicts}
    assert outcomes == {0: "tie", 1: "loss", 2: None, 3: "win", 4: "tie", 5: "win"}
    assert (result.win.count, result.tie.count, result.loss.count, result.unparsed) == (2, 2, 1, 1)
    assert result.judged == 5 and result.net == pytest.approx(0.2)
    assert result.order_disagreement.count == 1 and result.first_position.count == 1  # the confusing one
    assert result.win.ci_low < 0.4 < result.win.ci_high
    assert result.calls == 12 and result.model_calls == 12 and result.cost_usd == pytest.approx(0.012)
    again = judge_pair(engine, run_a, run_b, "judge", rubric=RUBRIC)
    assert again.model_calls == 0 and again.verdicts == result.verdicts  # recorded: nothing called twice
    assert len((tmp_path / "judge.log").read_text().splitlines()) == 12
    other_rubric = judge_pair(engine, run_a, run_b, "judge", rubric=RUBRIC.replace("Q:", "Question:"))
    assert other_rubric.model_calls == 12  # a new rubric is new judging, never the old verdicts
    with pytest.raises(UsageError, match="--judge 'nobody': not a target"):
        judge_pair(engine, run_a, run_b, "nobody")
    with pytest.raises(UsageError, match="--rubric: it reads output; it can read input"):
        judge_pair(engine, run_a, run_b, "judge", rubric="{{ output }}")
    store.close()


def test_cli_prints_the_verdict_and_json(tmp_path: Path) -> None:
    spec, db = _spec(tmp_path), tmp_path / "runs.db"
    for target in ("a", "b"):
        assert fteval_run("run", str(spec), "-t", target, store=db, extra_path=SCRIPT_PLUGIN).returncode == 0
    rubric = tmp_path / "rubric.txt"
    rubric.write_text(RUBRIC)
    store = Store(db)
    ids = [store.list_runs("pair", t)[0].id for t in ("a", "b")]
    store.close()
    args = ("judge", *ids, "--spec", str(spec), "--judge", "judge", "--rubric", str(rubric))
    out = fteval_run(*args, store=db, extra_path=SCRIPT_PLUGIN)
    assert out.returncode == 0, out.stderr
    assert (
        "win  0.400" in out.stdout and "loss 0.200" in out.stdout and "the two orders disagree on 0.200" in out.stdout
    )
    data = json.loads(fteval_run(*args, "--json", store=db, extra_path=SCRIPT_PLUGIN).stdout)
    assert data["model_calls"] == 0 and data["win"]["count"] == 2 and len(data["verdicts"]) == 6
