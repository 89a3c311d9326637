"""``fteval plan SPEC``: rows, tokens, training time and cost per target, from the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

from fteval_testutil import SPECS, fteval_cli


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
    result = fteval_cli("plan", str(_spec(tmp_path, None)), store=tmp_path / "r.db")
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
    result = fteval_cli("plan", str(_spec(tmp_path, 200)), "-t", "mini", store=tmp_path / "r.db")
    assert result.returncode == 0, result.stderr
    assert "\nlookup (" not in result.stdout
    assert re.search(r"warning: max_train_tokens 200 drops [\d,]+ of [\d,]+ train rows", result.stdout)


def test_plan_without_spec_still_sizes_samples(tmp_path: Path) -> None:
    sized = fteval_cli("plan", "--metric-value", "0.8", "--difference", "0.05", store=tmp_path / "r.db")
    assert sized.returncode == 0 and sized.stdout.startswith("n = ")
    neither = fteval_cli("plan", store=tmp_path / "r.db")
    assert neither.returncode == 2 and "give SPEC" in neither.stderr
