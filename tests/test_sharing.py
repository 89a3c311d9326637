"""Sharing specs: extends from installed packages (pkg:), fteval specs, fteval resolve [--why]."""

from __future__ import annotations

from pathlib import Path

from fteval_testutil import ROOT, SPECS, fteval_run

from fteval.spec.loader import load_spec, merged_spec
from fteval.spec.yamlsafe import load_yaml

TEAM = """\
extends: pkg:fteval_sql/sql.yaml
dataset:
  eval: {{path: {eval}}}
generation: {{max_new_tokens: 64}}
targets:
  baseline: {{trainer: lookup, evaluator_only: true}}
"""


def _team(tmp_path: Path) -> Path:
    spec = tmp_path / "team.yaml"
    spec.write_text(TEAM.format(eval=SPECS / "data" / "sql" / "val.json"), encoding="utf-8")
    return spec


def test_a_spec_extends_a_packaged_base_spec(tmp_path: Path) -> None:
    loaded = load_spec(_team(tmp_path))
    assert loaded.spec.parser.name == "sql" and loaded.spec.prompt.user == "{{ question }}"
    assert loaded.spec.generation.max_new_tokens == 64 and loaded.spec.generation.temperature == 0
    assert loaded.files[1] == ROOT / "plugins" / "fteval_sql" / "specs" / "sql.yaml"


def test_repo_base_specs_are_the_packaged_ones_plus_data() -> None:
    for task, pack in (("viggo", "fteval_viggo"), ("sql", "fteval_sql")):
        data, _ = load_yaml(SPECS / "base" / f"{task}.yaml")
        assert data["extends"] == f"pkg:{pack}/{task}.yaml" and set(data) == {"extends", "dataset"}


def test_bad_package_references_say_what_is_installed(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("extends: pkg:fteval_sql/sqll.yaml\n", encoding="utf-8")
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 2
    assert (
        f"{spec}:1:1: extends: 'pkg:fteval_sql/sqll.yaml': package 'fteval_sql' ships no spec 'sqll.yaml'" in out.stderr
    )
    assert "it ships: sql.yaml" in out.stderr
    spec.write_text("extends: pkg:no_such_pack/x.yaml\n", encoding="utf-8")
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert "no installed package 'no_such_pack' ships specs" in out.stderr and out.returncode == 2


def test_specs_lists_the_packaged_specs(tmp_path: Path) -> None:
    out = fteval_run("specs", store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    assert "pkg:fteval_sql/sql.yaml  Text-to-SQL" in out.stdout and "pkg:fteval_viggo/viggo.yaml" in out.stdout


def test_resolve_prints_the_merged_spec(tmp_path: Path) -> None:
    spec = _team(tmp_path)
    out = fteval_run("resolve", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 0, out.stderr
    printed = tmp_path / "printed.yaml"
    printed.write_text(out.stdout, encoding="utf-8")
    assert load_yaml(printed)[0] == merged_spec(spec)[0]
    assert out.stdout.startswith("fteval: 1\nname: sql\n"), "the spec's own key order"


def test_resolve_why_names_the_file_and_line_of_each_value(tmp_path: Path) -> None:
    spec = _team(tmp_path)
    out = fteval_run("resolve", str(spec), "--why", store=tmp_path / "r.db", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    package_spec = ROOT / "plugins" / "fteval_sql" / "specs" / "sql.yaml"
    assert "generation.max_new_tokens: 64  # team.yaml:4" in lines
    assert f"generation.temperature: 0  # {package_spec}:14" in lines
    assert 'targets.baseline.trainer: "lookup"  # team.yaml:6' in lines
    assert lines[0].startswith("# files, base first: ") and lines[0].endswith("-> team.yaml")


def _team_b(tmp_path: Path, removed: str) -> Path:
    """Team B's spec over ViGGO: drops an inherited target and adds its own."""
    spec = tmp_path / "team-b.yaml"
    spec.write_text(
        f"extends: {SPECS / 'viggo.yaml'}\nname: team-b\ntargets:\n  {removed}: null\n  mine: {{trainer: lookup}}\n",
        encoding="utf-8",
    )
    return spec


def test_an_extending_spec_removes_an_inherited_target_and_resolve_why_says_where(tmp_path: Path) -> None:
    spec = _team_b(tmp_path, "tiny")
    assert list(load_spec(spec).spec.targets) == ["lookup", "mine"]
    out = fteval_run("resolve", str(spec), "--why", store=tmp_path / "r.db", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "targets.tiny: null  # removed by team-b.yaml:4" in out.stdout.splitlines()
    assert "targets.tiny.trainer" not in out.stdout
    assert "tiny" not in fteval_run("resolve", str(spec), store=tmp_path / "r.db").stdout


def test_a_null_target_that_removes_nothing_is_an_error_at_its_line(tmp_path: Path) -> None:
    spec = _team_b(tmp_path, "tinyy")
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        f"{spec}:4:3: targets.tinyy: null removes an inherited target, but no spec this one extends has 'tinyy'"
        " (they have: lookup, tiny)"
    ) in out.stderr


def test_a_null_typo_after_a_removal_lists_every_inherited_target(tmp_path: Path) -> None:
    spec = tmp_path / "team-c.yaml"
    spec.write_text(f"extends: {SPECS / 'viggo.yaml'}\ntargets:\n  tiny: null\n  lookupp: null\n", encoding="utf-8")
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "no spec this one extends has 'lookupp' (they have: lookup, tiny)" in out.stderr
