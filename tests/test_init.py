"""``fteval init``: from a CSV to a first result in three commands (init, validate, run)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from fteval_testutil import fteval_run

_TOPICS = {
    "sports": ["team wins {} final", "star striker signs with {}", "{} coach sacked after defeat"],
    "business": ["{} shares fall after profit warning", "{} announces merger talks", "{} reports record revenue"],
    "science": ["researchers discover new {} species", "{} telescope captures a galaxy", "new {} vaccine trial"],
}
_WORDS = ["Madrid", "Tokyo", "river", "ocean", "solar", "Acme", "Globex", "coffee", "arctic", "Berlin", "Lagos"]


def _headlines(path: Path, rows: int = 200) -> Path:
    rng = random.Random(0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "headline", "label"])
        for i in range(rows):
            label = rng.choice(sorted(_TOPICS))
            out.writerow([i, rng.choice(_TOPICS[label]).format(rng.choice(_WORDS)), label])
    return path


def test_init_validate_run_from_a_csv(tmp_path: Path) -> None:
    data = _headlines(tmp_path / "headlines.csv")
    store = tmp_path / "runs.db"
    init = fteval_run("init", "--data", str(data), "-o", str(tmp_path / "news.yaml"), store=store, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "input: headline  target: label  task: classification" in init.stdout
    assert "labels: " in init.stdout and "eval gold labels: " in init.stdout
    spec = tmp_path / "news.yaml"
    text = spec.read_text()
    assert text.startswith("# yaml-language-server: $schema=spec.schema.json\n")
    assert f"#   fteval run {spec}" in text.splitlines()[2]
    assert "extends" not in text and '"{{ headline }}"' in text and "trainer: hf" in text
    assert (tmp_path / "spec.schema.json").is_file()

    validate = fteval_run("validate", str(spec), store=store, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert "ok (2 targets: lookup, tiny)" in validate.stdout

    run = fteval_run("run", str(spec), "-t", "lookup", store=store, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "accuracy" in run.stdout and "macro_f1" in run.stdout
    assert " 40 " in run.stdout  # the eval split: 20% of 200 rows, carved from the file


def test_init_refuses_to_overwrite_and_detects_generation(tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(f'{{"question": "what is {i} plus {i}", "output": "{2 * i}"}}\n' for i in range(30)))
    first = fteval_run("init", "--data", str(data), store=tmp_path / "r.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "input: question  target: output  task: generation" in first.stdout
    assert "parser: text" in (tmp_path / "pairs.yaml").read_text()
    again = fteval_run("init", "--data", str(data), store=tmp_path / "r.db", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_rejects_too_many_labels(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{i}\n" for i in range(40)))
    result = fteval_run("init", "--data", str(data), "--task", "classification", store=tmp_path / "r.db", cwd=tmp_path)
    assert result.returncode != 0
    assert "40 distinct values" in result.stderr and "--task generation" in result.stderr
