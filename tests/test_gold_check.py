"""Gold answers the parser rejects: reported by validate (first rows) and before a run (every row); label counts."""

from __future__ import annotations

from pathlib import Path

from fteval_testutil import fteval_run

SPEC = """\
fteval: 1
name: gold
dataset:
  train: {path: train.csv}
  eval: {path: eval.csv}
prompt:
  user: "Q: {{ question }}\\nA:"
  target: "{{ answer }}"
parser: {name: choice, labels: ["yes", "no"]}
targets:
  lookup: {trainer: lookup}
"""


def _write(tmp_path: Path, train: list[str], evals: list[str]) -> Path:
    for name, answers in (("train.csv", train), ("eval.csv", evals)):
        lines = ["question,answer"] + [f"q{i},{a}" for i, a in enumerate(answers)]
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def test_validate_prints_the_gold_label_distribution_and_one_target(tmp_path: Path) -> None:
    spec = _write(tmp_path, ["yes"] * 3 + ["no"], ["no", "yes"])
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    assert "ok (1 target: lookup)" in out.stdout
    assert "train gold labels: yes 3 (75.0%), no 1 (25.0%)" in out.stdout


def test_validate_rejects_numeric_gold_for_yes_no_labels(tmp_path: Path) -> None:
    spec = _write(tmp_path, ["yes", "no"], ["1", "0", "1"])
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 2
    assert f"{spec}:5:3: dataset.eval: 3 of 3 gold answers in dataset.eval" in out.stderr
    assert "(data rows 1, 2, 3)" in out.stderr and "every example would score 0" in out.stderr
    assert "Traceback" not in out.stderr


def test_some_rejected_gold_answers_are_a_warning_with_their_rows(tmp_path: Path) -> None:
    spec = _write(tmp_path, ["yes", "no"], ["1", "no", "yes", "0"])
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    assert f"warning: {spec}:5:3: dataset.eval: 2 of 4 gold answers in dataset.eval" in out.stderr
    assert "(data rows 1, 4)" in out.stderr and "those examples will always score 0" in out.stderr


def test_run_checks_every_row_before_it_starts(tmp_path: Path) -> None:
    # validate reads 300 rows spread from the first to the last (0, 3.3, 6.7, ...: row 2 is not one of them);
    # the bad gold is data row 2, so only the run start sees it
    spec = _write(tmp_path, ["yes", "no"], ["yes", "maybe"] + ["yes"] * 999)
    store = tmp_path / "r.db"
    checked = fteval_run("validate", str(spec), store=store)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr
    assert "eval gold labels, a sample of 300 of 1,001 rows: yes 300 (100.0%)" in checked.stdout
    run = fteval_run("run", str(spec), store=store)
    assert run.returncode == 0, run.stderr
    assert "warning: " in run.stderr and "1 of 1,001 gold answers in dataset.eval" in run.stderr
    assert "(data rows 2)" in run.stderr


def test_validate_samples_rows_from_first_to_last(tmp_path: Path) -> None:
    # a bad gold in the last row of a long file is seen by validate (the sample includes the last row)
    spec = _write(tmp_path, ["yes", "no"], ["yes"] * 1000 + ["maybe"])
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    assert "1 of 300 gold answers (a sample of 300 of 1,001 rows)" in out.stderr
    assert "(data rows 1001)" in out.stderr


def test_sample_indexes_spread_evenly() -> None:
    from fteval.spec.goldcheck import sample_indexes

    assert list(sample_indexes(5, 10)) == [0, 1, 2, 3, 4]
    assert list(sample_indexes(5, None)) == [0, 1, 2, 3, 4]
    picked = sample_indexes(1001, 300)
    assert len(picked) == 300 and picked[0] == 0 and picked[-1] == 1000
    assert picked == sorted(set(picked))
