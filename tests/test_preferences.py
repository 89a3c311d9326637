"""Preference data in a spec: rejected answers checked row by row, links between targets, pairs from outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fteval.data.preferences import pairs_from_outputs
from fteval.errors import DatasetError, SpecError
from fteval.identity import job_key
from fteval.plugin import Example, Prompt
from fteval.registry import load
from fteval.running.engine import render_examples
from fteval.spec.loader import load_spec


def _spec(tmp_path: Path, rows: str, *, prompt_extra: str = '  rejected: "{{ bad }}"\n', targets: str = "") -> Path:
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "eval.csv").write_text("q,good\nx,1\n")
    spec = tmp_path / "pref.yaml"
    spec.write_text(
        "fteval: 1\n"
        "name: pref\n"
        "dataset:\n"
        "  train: {path: train.csv}\n"
        "  eval: {path: eval.csv}\n"
        "prompt:\n"
        '  user: "{{ q }}"\n'
        '  target: "{{ good }}"\n'
        f"{prompt_extra}"
        "parser: text\n"
        "targets:\n"
        "  base: {trainer: lookup}\n"
        f"{targets}"
    )
    return spec


def test_the_eval_split_needs_no_rejected_column_and_train_pairs_render(tmp_path: Path) -> None:
    loaded = load_spec(_spec(tmp_path, "q,good,bad\na,1,2\nb,3,4\n"))
    train = render_examples(loaded, "train")
    assert [(e.target, e.rejected) for e in train] == [("1", "2"), ("3", "4")]
    assert [e.rejected for e in render_examples(loaded, "eval")] == [None]


def test_bad_preference_rows_fail_with_their_row_numbers_and_the_template_position(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 'q,good,bad\na,1,2\nb,3," "\nc,5,5\nd,7,8\ne,9, 9 \n')
    with pytest.raises(DatasetError) as err:
        render_examples(load_spec(spec), "train")
    message = str(err.value)
    assert message.startswith(
        f"{spec}:9:3: prompt.rejected: train split ({tmp_path / 'train.csv'}): 3 bad preference rows"
    )
    assert "data row 2: the rejected answer is empty" in message
    assert "data row 3: the rejected answer equals the preferred one (target)" in message
    assert "data row 5: the rejected answer equals" in message
    assert "data row 1:" not in message and "data row 4:" not in message


def test_a_rejected_template_names_a_missing_train_column_at_validate(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "q,good,worse\na,1,2\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert f"{spec}:9:3: prompt.rejected: template variable 'bad' is not a dataset column" in str(err.value)


def test_links_between_targets_are_checked(tmp_path: Path) -> None:
    targets = (
        "  a: {trainer: lookup, after: b}\n"
        "  b: {trainer: lookup, after: a}\n"
        "  c: {trainer: lookup, rejected_from: bse}\n"
        "  d: {trainer: lookup, evaluator_only: true, after: base}\n"
        "  e: {trainer: lookup, after: e}\n"
    )
    spec = _spec(tmp_path, "q,good,bad\na,1,2\n", targets=targets)
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert str(err.value).splitlines() == [
        f"{spec}:13:24: targets.a.after: a cycle of after: a -> b -> a",
        f"{spec}:14:24: targets.b.after: a cycle of after: b -> a -> b",
        f"{spec}:15:24: targets.c.rejected_from: unknown target 'bse' (did you mean 'base'?); the spec has: base, a, b, c, d, e",
        f"{spec}:16:24: targets.d.evaluator_only: an evaluator_only target trains nothing: drop after / rejected_from",
        f"{spec}:17:24: targets.e.after: a target cannot build on itself (after: e)",
    ]


def test_preference_settings_enter_the_job_key_only_when_set(tmp_path: Path) -> None:
    rows = "q,good,bad\na,1,2\n"
    plain = load_spec(_spec(tmp_path, rows, prompt_extra="")).spec
    with_pairs = load_spec(_spec(tmp_path, rows)).spec
    linked = load_spec(_spec(tmp_path, rows, targets="  more: {trainer: lookup, after: base}\n")).spec
    assert job_key(plain, "base") != job_key(with_pairs, "base")
    # an unset `after` leaves the key of a target as it was
    assert job_key(linked, "base") == job_key(with_pairs, "base")


def test_pairs_come_from_wrong_outputs_only() -> None:
    parser = load("parser", "text")()
    rows = [Example(i, {}, Prompt(None, f"q{i}"), gold) for i, gold in enumerate(["yes", "no", "no", "maybe"])]
    outputs = ["yes", "yes", "", " maybe\n"]  # right; wrong; empty (no pair); right once the parser strips it
    pairs = pairs_from_outputs(rows, outputs, parser)
    assert [(p.index, p.target, p.rejected) for p in pairs] == [(1, "no", "yes")]
