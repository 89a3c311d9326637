"""Splits carved from train: ``{from: train, fraction, seed}`` is disjoint, stable and part of the identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from fteval.data.splits import load_split
from fteval.errors import SpecError
from fteval.identity import job_key, split_identity
from fteval.spec.loader import load_spec

pytestmark = pytest.mark.fast

SPEC = """\
fteval: 1
name: carve
dataset:
  train: {{path: train.csv}}
  valid: {valid}
  eval: {eval}
prompt:
  user: "{{{{ question }}}}"
  target: "{{{{ answer }}}}"
parser: text
targets:
  lookup: {{trainer: lookup}}
"""


def _spec(tmp_path: Path, valid: str, eval_: str = "{path: eval.csv}", rows: int = 100) -> Path:
    lines = ["question,answer"] + [f"q{i},a{i}" for i in range(rows)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "eval.csv").write_text("question,answer\nq,a\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(valid=valid, eval=eval_), encoding="utf-8")
    return spec


def _questions(spec: Path, split: str) -> list[str]:
    rows = load_split(load_spec(spec).spec.dataset, split)
    assert rows is not None
    return [r["question"] for r in rows]


def test_carved_splits_are_disjoint_cover_train_and_are_stable(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{from: train, fraction: 0.1, seed: 3}", "{from: train, fraction: 0.2, seed: 3}")
    train, valid, evals = (_questions(spec, s) for s in ("train", "valid", "eval"))
    assert (len(train), len(valid), len(evals)) == (70, 10, 20)
    assert not set(train) & set(valid) and not set(train) & set(evals) and not set(valid) & set(evals)
    assert sorted(train + valid + evals) == sorted(f"q{i}" for i in range(100))
    assert _questions(spec, "valid") == valid, "the same spec carves the same rows"
    assert train == sorted(train, key=lambda q: int(q[1:])), "train keeps file order"


def test_carved_rows_follow_seed_and_fraction_and_change_the_job_key(tmp_path: Path) -> None:
    specs = []
    for name, valid in (
        ("a", "seed: 0, fraction: 0.1"),
        ("b", "seed: 1, fraction: 0.1"),
        ("c", "seed: 0, fraction: 0.2"),
    ):
        (tmp_path / name).mkdir()
        specs.append(_spec(tmp_path / name, f"{{from: train, {valid}}}"))
    assert _questions(specs[0], "valid") != _questions(specs[1], "valid")
    loaded = [load_spec(s).spec for s in specs]
    assert len({job_key(s, "lookup") for s in loaded}) == 3
    valid = split_identity(loaded[0].dataset, "valid")
    assert valid["train"]["path"].startswith("sha256:") and valid["fraction"] == 0.1
    assert split_identity(loaded[0].dataset, "train")["carved"]["valid"]["seed"] == 0


def test_an_uncarved_split_keeps_its_old_identity(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, "{path: eval.csv}")).spec
    identity = split_identity(spec.dataset, "train")
    assert "from" not in identity and "fraction" not in identity and "carved" not in identity


@pytest.mark.parametrize(
    ("valid", "message"),
    [
        ("{from: train}", "'from: train' and 'fraction' go together"),
        ("{from: train, fraction: 0.1, path: eval.csv}", "give exactly one of 'path', 'hf' or 'from'"),
        ("{from: eval, fraction: 0.1}", "Input should be 'train'"),
        ("{from: train, fraction: 1.5}", "less than 1"),
    ],
)
def test_bad_carves_are_spec_errors(tmp_path: Path, valid: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_spec(tmp_path, valid))
    assert message in str(info.value)
