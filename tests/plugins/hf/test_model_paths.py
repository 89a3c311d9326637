"""Model paths as a release engineer writes them: relative to the spec file, local paths never taken for hub ids."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from fteval_testutil import FTEVAL, SPECS, fteval_cli, fteval_run


def _spec(folder: Path, model_id: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "release.yaml"
    spec.write_text(
        f"""# fteval run release.yaml
extends: {SPECS / "viggo.yaml"}
name: viggo-paths
dataset:
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: 2}}
generation: {{max_new_tokens: 4}}
targets:
  release:
    trainer: hf
    evaluator_only: true
    model: {{id: {model_id}}}
"""
    )
    return spec


def test_a_model_folder_resolves_against_the_spec_file_from_any_directory(tmp_path: Path, tiny_hub_model: Path) -> None:
    team = tmp_path / "team"
    shutil.copytree(tiny_hub_model, team / "releases" / "current")
    spec = _spec(team, "releases/current")  # no ./: an existing folder beside the spec is still a folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = fteval_cli("run", str(spec), "-t", "release", store=tmp_path / "r.db", cwd=elsewhere, env_extra=env)
    assert out.returncode == 0, out.stderr
    shown = fteval_run("show", "latest", store=tmp_path / "r.db", cwd=elsewhere)
    assert f"model {(team / 'releases' / 'current').resolve()}" in shown.stdout
    assert "identity dir-sha256:" in shown.stdout


@pytest.mark.parametrize(
    ("model_id", "make", "message"),
    [
        ("./releases/missing", False, "model folder {abs}/releases/missing does not exist"),
        ("./releases/empty", True, "model folder {abs}/releases/empty holds no config.json or adapter_config.json"),
    ],
)
def test_validate_names_the_line_of_a_missing_or_empty_model_folder(
    tmp_path: Path, model_id: str, make: bool, message: str
) -> None:
    spec = _spec(tmp_path, model_id)
    if make:
        (tmp_path / "releases" / "empty").mkdir(parents=True)
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{spec}:11:" in out.stderr and "targets.release.model.id" in out.stderr
    assert message.format(abs=tmp_path.resolve()) in out.stderr


def test_a_hub_id_that_cannot_be_reached_offline_fails_at_once_in_one_line(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "acme/not-cached")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "COLUMNS": "250"}
    started = time.monotonic()
    out = subprocess.run(
        [*FTEVAL, "--store", str(tmp_path / "r.db"), "run", str(spec), "-t", "release"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert time.monotonic() - started < 60  # the import of torch dominates; no download retries
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("model.id 'acme/not-cached' is not a local folder (a folder is written ./acme")
    assert "HF_HUB_OFFLINE is set" in lines[-1] and len([line for line in lines if "model.id" in line]) == 1
