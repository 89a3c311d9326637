"""Every shipped spec validates, and the task specs render exactly the reference experiment's prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_testutil import ROOT, SPECS

from fteval.running.engine import render_examples
from fteval.spec.loader import load_spec

pytestmark = pytest.mark.fast

SHIPPED = sorted(SPECS.glob("*.yaml")) + sorted((SPECS / "base").glob("*.yaml"))


@pytest.mark.parametrize("spec", SHIPPED, ids=lambda p: p.name)
def test_shipped_spec_validates_and_says_how_to_run_it(spec: Path) -> None:
    loaded = load_spec(spec)
    assert loaded.spec.targets or spec.parent.name == "base"
    header = [line for line in spec.read_text().splitlines() if line.startswith("#")][:4]
    assert header, "a spec opens with a comment"
    if spec.parent == SPECS:
        assert any("fteval run specs/" + spec.name in line for line in header)


@pytest.mark.parametrize(
    ("spec", "reference"),
    [("base/viggo.yaml", "viggo_validation.jsonl"), ("base/sql.yaml", "sql_validation.jsonl")],
)
def test_eval_split_renders_the_reference_openai_file_exactly(spec: str, reference: str) -> None:
    examples = render_examples(load_spec(SPECS / spec), "eval")
    lines = (ROOT / "tests/data/reference" / reference).read_text(encoding="utf-8").splitlines()
    assert len(examples) == len(lines)
    for example, line in zip(examples, lines, strict=True):
        messages = [*example.prompt.messages(), {"role": "assistant", "content": example.target}]
        assert messages == json.loads(line)["messages"]
