"""The spec JSON Schema: plugin sections included, shipped with the specs, and every shipped spec passes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_testutil import SPECS, fteval_run

from fteval.spec.schema import spec_schema
from fteval.spec.yamlsafe import load_yaml

pytestmark = pytest.mark.fast

SHIPPED = sorted([*SPECS.glob("*.yaml"), *SPECS.glob("base/*.yaml")])
SCHEMA_FILE = SPECS / "spec.schema.json"


def test_shipped_schema_file_is_what_fteval_schema_prints() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == spec_schema(), (
        "regenerate it: fteval schema > specs/spec.schema.json"
    )


@pytest.mark.parametrize("spec", SHIPPED, ids=[p.relative_to(SPECS).as_posix() for p in SHIPPED])
def test_shipped_spec_names_the_schema_and_passes_it(spec: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), first
    assert (spec.parent / first.split("$schema=", 1)[1]).resolve() == SCHEMA_FILE.resolve()
    data, _ = load_yaml(spec)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft202012Validator(spec_schema()).iter_errors(data)
    ]
    assert not errors


def test_schema_checks_plugin_options_and_plugin_names() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(spec_schema())
    spec = {
        "fteval": 1,
        "name": "x",
        "dataset": {"eval": {"path": "e.csv"}},
        "prompt": {"user": "u", "target": "t"},
        "parser": {"name": "choice", "labels": ["a"], "allow_surrounding_text": True},
        "metrics": ["accuracy", "macro_f1"],
        "targets": {"t": {"trainer": "hf", "train": {"epochs": 3}}},
    }
    assert not list(validator.iter_errors(spec))
    bad = {**spec, "parser": {"name": "choice", "lables": ["a"]}, "metrics": ["acuracy"]}
    bad["targets"] = {"t": {"trainer": "hf", "train": {"epoch": 3}}}
    where = sorted(tuple(e.absolute_path) for e in validator.iter_errors(bad))
    assert where == [("metrics",), ("parser",), ("targets", "t", "train")]
    assert not list(validator.iter_errors({"extends": "base.yaml", "targets": {}})), (
        "a child file needs no required keys"
    )


def test_plugins_verbose_lists_each_plugins_options(tmp_path: Path) -> None:

    out = fteval_run("plugins", "--verbose", store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    choice = out.stdout[out.stdout.index("parser choice") :]
    assert "allow_surrounding_text" in choice and "(required)" in choice
    assert "train.epochs" in out.stdout[out.stdout.index("trainer hf") :]
