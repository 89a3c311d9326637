"""``fteval export`` and the trainer's upload file reproduce the reference OpenAI files message for message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_openai.datacheck import training_record
from fteval_testutil import ROOT, SPECS, fteval_run

from fteval.running.engine import render_examples
from fteval.spec.loader import load_spec

REFERENCE = ROOT / "tests" / "data" / "reference"  # byte-identical copies of the reference OpenAI files
CASES = [("base/viggo.yaml", "viggo_validation.jsonl"), ("base/sql.yaml", "sql_validation.jsonl")]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(("spec", "reference"), CASES)
def test_export_reproduces_the_reference_file(tmp_path: Path, spec: str, reference: str) -> None:
    out = tmp_path / "export.jsonl"
    result = fteval_run("export", str(SPECS / spec), "--split", "eval", "-o", str(out), store=tmp_path / "r.db")
    assert result.returncode == 0, result.stderr
    got, want = _lines(out), _lines(REFERENCE / reference)
    assert len(got) == len(want)
    for row, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {row} differs"


@pytest.mark.parametrize(("spec", "reference"), CASES)
def test_the_trainer_uploads_exactly_what_export_writes(spec: str, reference: str) -> None:
    examples = render_examples(load_spec(SPECS / spec), "eval")
    assert [training_record(e) for e in examples] == _lines(REFERENCE / reference)
