"""A local model directory replaced in place is a new model: new calls, new numbers, a retrained LoRA."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import tiny_llama

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

ROWS = [("red sky", "blue"), ("green sea", "grass"), ("amber sun", "yellow"), ("white snow", "cold")]


def _save_model(folder: Path, seed: int) -> Path:
    """A tiny Llama + BPE tokenizer saved with save_pretrained, like a released model directory."""
    from fteval_hf.scratch import train_tokenizer

    tokenizer = train_tokenizer([f"{q} {a}" for q, a in ROWS] * 20, 300)
    model = tiny_llama(
        len(tokenizer), pad=tokenizer.pad_token_id, eos=tokenizer.eos_token_id, seed=seed, init_range=0.5
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    return _save_model(root / "old", seed=1), _save_model(root / "new", seed=2)


def _replace(release: Path, new: Path) -> None:
    """Copy the new model's files over the release directory's (as a deploy step would)."""
    for path in new.iterdir():
        shutil.copyfile(path, release / path.name)


def _spec(tmp_path: Path, release: Path, train: str) -> Path:
    data = tmp_path / "rows.csv"
    data.write_text("q,a\n" + "".join(f"{q},{a}\n" for q, a in ROWS))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""fteval: 1
name: release
dataset: {{train: {{path: {data}}}, eval: {{path: {data}}}}}
prompt: {{user: "{{{{ q }}}}", target: "{{{{ a }}}}"}}
parser: text
metrics: [char_exact]
generation: {{max_new_tokens: 6}}
targets:
  t:
    trainer: hf
    model: {{id: {release}, device: cpu}}
    {train}
"""
    )
    return spec


def _run(spec: Path, db: Path, home: Path) -> tuple[Engine, str]:
    engine = Engine(load_spec(spec), Store(db), home)
    return engine, engine.run("t")


def _outputs(engine: Engine, run_id: str) -> list[str]:
    return [e.output for e in engine.store.examples(run_id)]


def test_evaluator_only_dir_replaced_in_place_gives_new_calls_and_new_numbers(
    tmp_path: Path, models: tuple[Path, Path], one_torch_thread: None
) -> None:
    old, new = models
    release = shutil.copytree(old, tmp_path / "release")
    spec = _spec(tmp_path, release, "evaluator_only: true")
    first, run_a = _run(spec, tmp_path / "runs.db", tmp_path)
    assert first.model_calls == len(ROWS)
    _replace(release, new)
    second, run_b = _run(spec, tmp_path / "runs.db", tmp_path)
    assert run_b != run_a and second.model_calls == len(ROWS)
    # the numbers are the new model's: the same as a fresh store evaluating the new files
    (tmp_path / "fresh").mkdir()
    fresh, run_c = _run(
        _spec(tmp_path / "fresh", new, "evaluator_only: true"), tmp_path / "fresh" / "runs.db", tmp_path / "fresh"
    )
    assert _outputs(second, run_b) == _outputs(fresh, run_c) != _outputs(first, run_a)
    agg = lambda e, r: [(a.metric, a.value) for a in e.store.aggregates(r)]
    assert agg(second, run_b) == agg(fresh, run_c)
    a, b = second.store.get_run(run_a), second.store.get_run(run_b)
    assert a.model_identity.startswith("dir-sha256:") and a.model_identity != b.model_identity
    assert b.model_location == str(release) and b.model_identity in b.model_fingerprint
    # unchanged files: the stored run is reused, no model call
    third, run_d = _run(spec, tmp_path / "runs.db", tmp_path)
    assert run_d == run_b and third.model_calls == 0


def test_lora_base_dir_replaced_in_place_retrains(
    tmp_path: Path, models: tuple[Path, Path], one_torch_thread: None
) -> None:
    old, new = models
    release = shutil.copytree(old, tmp_path / "release")
    lora = "train: {method: lora, max_steps: 2, batch_size: 4, warmup_steps: 0, eval_every: null, lr: 1.0e-2}"
    spec = _spec(tmp_path, release, lora)
    first, run_a = _run(spec, tmp_path / "runs.db", tmp_path)
    job_a = first.store.get_run(run_a).job_id
    _replace(release, new)
    second, run_b = _run(spec, tmp_path / "runs.db", tmp_path)
    job_b = second.store.job_by_id(second.store.get_run(run_b).job_id)
    assert job_b.id != job_a and job_b.stats["steps"] == 2, "the job must retrain on the new base"
    assert job_b.handle.meta["base"]["identity"] == second.model_identity("t")
    assert second.model_calls == len(ROWS) and _outputs(second, run_b) != _outputs(first, run_a)


def test_hub_identity_offline_is_the_cached_snapshot_commit(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    code = (
        "from fteval_hf.loading import hub_identity;"
        "print(hub_identity('acme/tiny', None)); print(hub_identity('acme/tiny', 'v2')); print(hub_identity('acme/other', None))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [f"hub:acme/tiny@{commit}", "hub:acme/tiny@v2", "hub:acme/other@main"]


def test_model_option_evaluates_another_directory_and_records_it(tmp_path: Path, models: tuple[Path, Path]) -> None:
    import json

    from fteval_testutil import fteval_run

    old, new = models
    spec, store = _spec(tmp_path, old, "evaluator_only: true"), tmp_path / "runs.db"
    base = fteval_run("run", str(spec), "-t", "t", store=store)
    assert base.returncode == 0, base.stderr
    release = fteval_run("run", str(spec), "-t", "t", "--model", str(new), store=store)
    assert release.returncode == 0, release.stderr
    assert f"model calls this invocation: {len(ROWS)}" in release.stdout
    shown = fteval_run("show", "latest", store=store).stdout
    assert f"model {new}  identity dir-sha256:" in shown
    runs = json.loads(fteval_run("runs", "--json", store=store).stdout)
    assert [r["model_location"] for r in runs] == [str(new), str(old)]
    assert runs[0]["model_identity"] != runs[1]["model_identity"]
    full = json.loads(fteval_run("show", "latest", "--json", "-n", "0", store=store).stdout)
    assert full["run"]["config"]["target_config"]["model"]["id"] == str(new)
