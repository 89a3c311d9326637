"""``--model`` as a partial spec: any target whose trainer can evaluate a model takes one; others are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_testutil import SPECS

from fteval.cli.model_option import model_overrides
from fteval.errors import UsageError
from fteval.spec.loader import load_spec


def test_a_trained_scratch_target_evaluates_the_model_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rel" / "v1").mkdir(parents=True)
    (tmp_path / "rel" / "v1" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    overrides = model_overrides(SPECS / "viggo.yaml", "rel/v1", ("tiny",))
    model = {"init": None, "preset": None, "id": str(tmp_path / "rel" / "v1")}
    assert overrides == {"targets": {"tiny": {"evaluator_only": True, "model": model}}}
    loaded = load_spec(SPECS / "viggo.yaml", overrides, overrides_from="--model", gold_rows=0)
    target = loaded.targets["tiny"]
    assert target.spec.evaluator_only and target.config.model.id == str(tmp_path / "rel" / "v1")


def test_a_gguf_target_takes_a_hub_id_and_keeps_how_it_runs() -> None:
    overrides = model_overrides(SPECS / "sql-smollm.yaml", "org/model", ("smollm-lora",))
    assert overrides == {
        "targets": {"smollm-lora": {"evaluator_only": True, "model": {"gguf": None, "id": "org/model"}}}
    }


def test_a_target_that_cannot_evaluate_a_model_names_those_that_can() -> None:
    with pytest.raises(UsageError) as err:
        model_overrides(SPECS / "viggo.yaml", "org/model", ("lookup",))
    assert str(err.value) == (
        "--model: target 'lookup' (trainer 'lookup') cannot evaluate a model named by id;"
        " targets of viggo.yaml that can: tiny"
    )
