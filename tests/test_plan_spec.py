"""``fteval plan SPEC``: rows, tokens, training time and cost per target, from the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fteval_testutil import SPECS, fteval_run

from fteval.running.planning import plan_spec
from fteval.spec.loader import load_spec


def _spec(tmp_path: Path, budget: int | None) -> Path:
    budget_line = f", max_train_tokens: {budget}" if budget else ""
    spec = tmp_path / "plan.yaml"
    spec.write_text(
        f"""fteval: 1
name: plan
dataset:
  train: {{path: {SPECS / "data/yesno/train.csv"}}}
  eval: {{path: {SPECS / "data/yesno/test.csv"}}}
prompt: {{user: "Q: {{{{ question }}}}\\nA:", target: "{{{{ answer }}}}"}}
parser: {{name: choice, labels: ["yes", "no"]}}
targets:
  lookup: {{trainer: lookup}}
  tiny:
    trainer: hf
    model: {{init: scratch, preset: tiny}}
    train: {{epochs: 4}}
  mini:
    trainer: openai
    model: {{name: gpt-4o-mini-2024-07-18}}
    train: {{epochs: 3{budget_line}}}
"""
    )
    return spec


def _block(out: str, target: str) -> str:
    return out.split(f"\n{target} (", 1)[1].split("\n\n", 1)[0]


def test_plan_spec_per_target(tmp_path: Path) -> None:
    result = fteval_run("plan", str(_spec(tmp_path, None)), store=tmp_path / "r.db")
    assert result.returncode == 0, result.stderr
    rows = sum(1 for _ in (SPECS / "data/yesno/train.csv").open()) - 1
    lookup, tiny, mini = (_block(result.stdout, t) for t in ("lookup", "tiny", "mini"))
    assert "tokens: chars/4 estimate" in lookup and f"train {rows:>7,} rows" in lookup
    assert "training" not in lookup
    assert "tokens: tiktoken" in mini and "training cost: ~$" in mini and "eval inference cost: ~$" in mini
    # hf: prompt + target tokens x 4 epochs, at the README's measured tokens/s
    train = re.search(r"train +[\d,]+ rows +([\d,]+) prompt \+ +([\d,]+) target", tiny)
    assert train is not None
    per_epoch = sum(int(x.replace(",", "")) for x in train.groups())
    assert f"training: {per_epoch * 4:,} tokens (4 epochs)" in tiny
    assert "5,252 tokens/s" in tiny and "at least" in tiny and "lower bound" in tiny
    assert "warning" not in result.stdout


def test_plan_warns_of_a_token_budget_that_drops_rows(tmp_path: Path) -> None:
    result = fteval_run("plan", str(_spec(tmp_path, 200)), "-t", "mini", store=tmp_path / "r.db")
    assert result.returncode == 0, result.stderr
    assert "\nlookup (" not in result.stdout
    assert re.search(r"warning: max_train_tokens 200 drops [\d,]+ of [\d,]+ train rows", result.stdout)


def test_plan_without_spec_still_sizes_samples(tmp_path: Path) -> None:
    sized = fteval_run("plan", "--metric-value", "0.8", "--difference", "0.05", store=tmp_path / "r.db")
    assert sized.returncode == 0 and sized.stdout.startswith("n = ")
    neither = fteval_run("plan", store=tmp_path / "r.db")
    assert neither.returncode == 2 and "give SPEC" in neither.stderr


def test_plan_counts_a_shared_prompt_prefix_once_per_batch(tmp_path: Path) -> None:
    system = "Write the meaning representation. " * 10  # 340 characters every prompt starts with
    spec = tmp_path / "shared.yaml"
    spec.write_text(
        f"""fteval: 1
name: shared
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}}}
  eval: {{path: {SPECS / "data/viggo/test.csv"}}}
prompt: {{system: "{system}", user: "{{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: viggo
targets:
  shared:
    trainer: hf
    model: {{init: scratch, preset: tiny}}
    train: {{epochs: 4, batch_size: 8}}
  plain:
    trainer: hf
    model: {{init: scratch, preset: tiny}}
    train: {{epochs: 4, batch_size: 8, shared_prefix: "off"}}
"""
    )
    result = fteval_run("plan", str(spec), store=tmp_path / "r.db")
    assert result.returncode == 0, result.stderr
    shared, plain = _block(result.stdout, "shared"), _block(result.stdout, "plain")
    note = re.search(
        r"shared prefix: ~(\d+) prompt tokens every row starts with are computed once per batch of 8", shared
    )
    assert note is not None, shared
    prefix = int(note[1])
    assert 340 // 4 <= prefix <= 360 // 4  # the system text (and the separator), never into the sentences
    assert "shared prefix" not in plain

    plans = {p.name: p for p in plan_spec(load_spec(spec))}
    assert plans["plain"].train_tokens == plans["shared"].train_tokens  # the same tokens are trained
    assert plans["plain"].train_time_s == pytest.approx(plans["plain"].train_tokens / 5252)
    rows = plans["plain"].splits["train"].rows
    saved_tokens = (rows - -(-rows // 8)) * prefix * 4  # every row of a batch but one, 4 epochs
    assert plans["shared"].train_time_s == pytest.approx((plans["plain"].train_tokens - saved_tokens) / 5252)
