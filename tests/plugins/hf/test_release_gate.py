"""A release engineer's whole loop: train two tiny releases, export both, and run the CI workflow's own scripts.

The workflow's steps (examples/ci/model-release.yml) run with bash in a git repository whose main
branch holds release v1 and whose pull-request branch holds v2, starting with no stored baseline.
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from fteval_testutil import ROOT, fteval_run
from ruamel.yaml import YAML

from fteval.storage.store import Store

COLOURS = ["red", "green", "blue", "amber", "violet", "white", "black", "grey"]
THINGS = ["sky", "grass", "sea", "sun", "snow", "coal", "cloud", "plum", "fire", "moss"]
TRAIN = "lr: 1.0e-2, batch_size: 16, eval_every: null"


def _data(folder: Path) -> None:
    """'Colours of: sea, coal' -> 'blue, red': 200 train rows, 40 eval rows."""
    colour = {t: COLOURS[i % len(COLOURS)] for i, t in enumerate(THINGS)}
    rng = random.Random(0)
    for name, n in (("train", 200), ("eval", 40)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["q", "a"])
            for _ in range(n):
                picks = rng.sample(THINGS, rng.randint(1, 2))
                writer.writerow(["Colours of: " + ", ".join(picks), ", ".join(colour[p] for p in picks)])


def _spec(folder: Path, base: Path) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text(
        f"""# fteval run spec.yaml -t good   (the release under review is the `release` target)
fteval: 1
name: colours
dataset:
  train: {{path: train.csv}}
  eval: {{path: eval.csv}}
prompt: {{user: "{{{{ q }}}}", target: "{{{{ a }}}}"}}
parser: text
metrics: [exact_match]
generation: {{max_new_tokens: 8}}
targets:
  good: {{trainer: hf, model: {{id: {base}}}, train: {{max_steps: 300, warmup_steps: 5, {TRAIN}}}}}
  poor: {{trainer: hf, model: {{id: {base}}}, train: {{max_steps: 2, warmup_steps: 1, {TRAIN}}}}}
  release: {{trainer: hf, evaluator_only: true, model: {{id: ./release}}}}
""",
        encoding="utf-8",
    )
    return spec


def _steps() -> dict[str, str]:
    """The workflow's run scripts by step name."""
    workflow = YAML(typ="safe").load((ROOT / "examples" / "ci" / "model-release.yml").read_text(encoding="utf-8"))
    return {s["name"]: s["run"] for s in workflow["jobs"]["evaluate"]["steps"] if "run" in s and "name" in s}


def _ci_env(workflow_env: dict[str, str]) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, **workflow_env, "PATH": venv_bin + os.pathsep + os.environ["PATH"], "OMP_NUM_THREADS": "1"}
    env.update(GIT_AUTHOR_NAME="ci", GIT_AUTHOR_EMAIL="ci@example.com", GIT_COMMITTER_NAME="ci")
    env.update(GIT_COMMITTER_EMAIL="ci@example.com", COLUMNS="80")  # a CI log: narrow, not a terminal
    env.pop("FTEVAL_STORE", None)
    return env


def _step(repo: Path, script: str, env: dict[str, str], sha: str, pr: int = 7) -> subprocess.CompletedProcess:
    """Run one step's script as Actions would, its ${{ }} expressions filled in for pull request ``pr`` against main."""
    filled = (
        script.replace("${{ github.base_ref }}", "main")
        .replace("${{ github.event.pull_request.number }}", str(pr))
        .replace("${{ github.sha }}", sha)
    )
    assert "${{" not in filled, filled
    return subprocess.run(["bash", "-e", "-c", filled], cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def _git(repo: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_two_tiny_releases_exported_and_gated_by_the_workflow_in_both_directions(
    tmp_path: Path, tiny_hub_model: Path
) -> None:
    work = tmp_path / "train"
    work.mkdir()
    _data(work)
    spec = _spec(work, tiny_hub_model)
    shutil.copytree(tiny_hub_model, work / "release")  # the spec names ./release: validate checks it is a model
    store = work / ".fteval" / "runs.db"
    env_extra = {"OMP_NUM_THREADS": "1"}
    for target in ("good", "poor"):
        trained = fteval_run("run", str(spec), "-t", target, "--label", target, store=store, env_extra=env_extra)
        assert trained.returncode == 0, trained.stderr
        exported = fteval_run("export-model", target, str(tmp_path / "exports" / target), store=store)
        assert exported.returncode == 0, exported.stderr
    scores = {r.label: {a.metric: a.value for a in Store(store).aggregates(r.id)} for r in Store(store).list_runs()}
    assert scores["good"]["exact_match"] > 0.4 > scores["poor"]["exact_match"]

    # the repository: main holds release v1 (good), the pull request replaces it with v2 (poor); no store
    repo = tmp_path / "repo"
    repo.mkdir()
    workflow = YAML(typ="safe").load((ROOT / "examples" / "ci" / "model-release.yml").read_text(encoding="utf-8"))
    env = _ci_env({k: str(v) for k, v in workflow["env"].items()})
    assert env["SPEC"] == "spec.yaml" and env["TARGET"] == "release" and env["RELEASE"] == "./release"
    for name in ("train.csv", "eval.csv", "spec.yaml"):
        shutil.copy(work / name, repo / name)
    shutil.copytree(tmp_path / "exports" / "good", repo / "release")
    _git(repo, "init", "-q", "-b", "main", env=env)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "release v1", env=env)
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD", env=env)
    _git(repo, "checkout", "-q", "-b", "pr-7", env=env)
    shutil.rmtree(repo / "release")
    shutil.copytree(tmp_path / "exports" / "poor", repo / "release")
    _git(repo, "commit", "-q", "-am", "release v2", env=env)
    sha = _git(repo, "rev-parse", "HEAD", env=env)

    steps = _steps()
    fallback = _step(repo, steps["Evaluate the base branch's release when no baseline is stored"], env, sha)
    assert fallback.returncode == 0, fallback.stdout[-3000:] + fallback.stderr[-3000:]
    assert "baseline restored" not in fallback.stdout  # there was none: main's release was evaluated here
    gate_script = steps["Evaluate the release against the baseline"]
    worse = _step(repo, gate_script, env, sha)
    assert worse.returncode == 1, worse.stdout[-3000:] + worse.stderr[-3000:]
    assert worse.stdout.strip().splitlines()[-1].startswith("gate: FAILED: exact_match of ")
    assert "…" not in worse.stdout  # full-width tables in a log
    assert "❌ exact_match: FAILED" in (repo / "summary.md").read_text(encoding="utf-8")

    # the other direction: the poor release is the baseline, the good one the candidate
    rerun = Store(repo / ".fteval" / "runs.db")
    candidate = rerun.get_run("latest")
    assert candidate.label == f"pr-7-{sha}"
    assert fteval_run("tag", "--force", candidate.id, "baseline", store=repo / ".fteval" / "runs.db").returncode == 0
    shutil.rmtree(repo / "release")
    shutil.copytree(tmp_path / "exports" / "good", repo / "release")
    better = _step(repo, gate_script, env, sha, pr=8)
    assert better.returncode == 0, better.stdout[-3000:] + better.stderr[-3000:]
    assert re.match(r"gate: PASSED: 1 gated metric", better.stdout.strip().splitlines()[-1])
