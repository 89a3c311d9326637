"""`fteval export-model` as a release engineer uses it: train tiny releases, export, load without fteval, re-evaluate."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from fteval_testutil import SPECS, fteval_run

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

TRAIN = "{epochs: null, max_steps: 6, lr: 1.0e-3, warmup_steps: 2, batch_size: 16, eval_every: null}"
LORA = "{epochs: null, max_steps: 6, lr: 1.0e-2, warmup_steps: 2, batch_size: 16, eval_every: null, method: lora"


def _spec(folder: Path, targets: str) -> Path:
    """A ViGGO spec (96 train rows, 8 eval rows) with the given targets section."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "release.yaml"
    spec.write_text(
        f"""extends: {SPECS / "viggo.yaml"}
name: viggo-release
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}, limit: 96}}
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: 8}}
generation: {{max_new_tokens: 16}}
targets:
{targets}
"""
    )
    return spec


def _outputs(store: Store, run_id: str) -> list[str]:
    return [e.output for e in store.examples(run_id)]


def _load_without_fteval(folder: Path, prompt: str) -> str:
    """Load the folder with plain transformers in a process where fteval cannot be imported; greedy output."""
    code = f"""
import sys
for name in ("fteval", "fteval_hf", "fteval_generic", "fteval_viggo"):
    sys.modules[name] = None  # importing fteval would fail: the folder must not need it
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained({str(folder)!r})
model = AutoModelForCausalLM.from_pretrained({str(folder)!r})
ids = tok({prompt!r}, return_tensors="pt").input_ids
out = model.generate(ids, max_new_tokens=16, do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
print(repr(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return str(eval(done.stdout.strip().splitlines()[-1]))


def _front_matter(card: str) -> dict:
    from ruamel.yaml import YAML

    head = card.split("---\n")[1]
    return YAML(typ="safe").load(head)


def test_a_trained_release_exports_loads_without_fteval_and_scores_the_same(tmp_path: Path) -> None:
    work = tmp_path / "team"
    spec = _spec(
        work,
        f"  tiny:\n    trainer: hf\n    model: {{init: scratch, preset: tiny, vocab_size: 400}}\n    train: {TRAIN}",
    )
    db = work / ".fteval" / "runs.db"
    engine = Engine(load_spec(spec), Store(db), db.parent)
    run_id = engine.run("tiny")
    store = engine.store

    out = fteval_run("export-model", "latest", str(work / "rel" / "v1"), store=db)
    assert out.returncode == 0, out.stderr
    folder = work / "rel" / "v1"
    files = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= files
    assert "fteval_hf.json" not in files and not (work / "rel" / "v1.partial").exists()
    for path in folder.iterdir():  # readable by others (the store's saves are 0600)
        assert path.stat().st_mode & stat.S_IROTH, path
        assert str(db.parent) not in path.read_bytes().decode("utf-8", "replace"), f"{path.name} points into the store"

    # the model card: model-index results with 95% intervals, the eval split and its rows, provenance
    card = (folder / "README.md").read_text()
    front = _front_matter(card)
    result = front["model-index"][0]["results"][0]
    assert result["dataset"]["split"] == "eval" and result["dataset"]["args"]["rows"] == 8
    stored = {a.metric: a for a in store.aggregates(run_id)}
    for metric in result["metrics"]:
        agg = stored[metric["type"]]
        assert metric["value"] == pytest.approx(agg.value, abs=1e-6)
        assert metric["args"]["ci95"] == pytest.approx([agg.ci_low, agg.ci_high], abs=1e-6)
    assert {m["type"] for m in result["metrics"]} == set(stored)
    from huggingface_hub import ModelCard  # the hub's own reader of model cards accepts it

    parsed = ModelCard(card).data.eval_results
    assert {(r.metric_type, r.dataset_split) for r in parsed} == {(m, "eval") for m in stored}
    run = store.get_run(run_id)
    assert f"sha256:{run.spec_hash}" in card and "fteval 0." in card
    assert "max_steps: 6" in card and "viggo/train.csv" in card
    example = store.examples(run_id, limit=1)[0]
    assert example.prompt["user"].splitlines()[0] in card  # the rendered example

    # plain transformers, no fteval: the same greedy answer the run stored for the first example
    prompt = (example.prompt["system"] + "\n\n" if example.prompt.get("system") else "") + example.prompt["user"]
    prompt = prompt if prompt[-1:].isspace() else prompt + "\n"
    assert _load_without_fteval(folder, prompt) == example.output

    # evaluated as an evaluator-only target, the folder gives the run's outputs, and show links it to the job
    release = _spec(
        work, f"  release:\n    trainer: hf\n    evaluator_only: true\n    model: {{id: {folder}}}\n    train: {TRAIN}"
    )
    again = Engine(load_spec(release), Store(db), db.parent)
    release_run = again.run("release")
    assert again.model_calls == 8 and _outputs(store, release_run) == _outputs(store, run_id)
    shown = fteval_run("show", release_run, "--json", store=db)
    data = json.loads(shown.stdout)
    assert data["exported_from"][0]["run_id"] == run_id and data["exported_from"][0]["job_id"] == run.job_id
    assert data["run"]["model_identity"] == data["exported_from"][0]["identity"]
    text = fteval_run("show", run_id, store=db).stdout
    assert f"exported to {folder}" in text

    # --model on the trained target itself (typed relative to the current directory): the same outputs again
    by_option = fteval_run("run", str(spec), "-t", "tiny", "--model", "rel/v1", store=db, cwd=work)
    assert by_option.returncode == 0, by_option.stderr
    option_run = store.get_run("latest")
    assert option_run.model_location == str(folder) and _outputs(store, option_run.id) == _outputs(store, run_id)

    # an existing folder is not overwritten without --force
    refused = fteval_run("export-model", run_id, str(folder), store=db)
    assert refused.returncode == 2 and "--force" in refused.stderr


def test_a_lora_release_exports_merged_or_says_why_its_adapter_cannot_stand_alone(tmp_path: Path) -> None:
    lora = LORA + ", lora: {merge: true}}"
    spec = _spec(
        tmp_path, f"  tiny-lora:\n    trainer: hf\n    model: {{init: scratch, vocab_size: 400}}\n    train: {lora}"
    )
    db = tmp_path / "runs.db"
    engine = Engine(load_spec(spec), Store(db), tmp_path)
    run_id = engine.run("tiny-lora")

    alone = fteval_run("export-model", run_id, str(tmp_path / "adapter"), store=db)
    assert alone.returncode == 1 and "scratch model kept in the run store" in alone.stderr and "--merge" in alone.stderr
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "adapter.partial").exists()

    merged = fteval_run("export-model", run_id, str(tmp_path / "merged"), "--merge", store=db)
    assert merged.returncode == 0, merged.stderr
    assert "merged" in merged.stdout and (tmp_path / "merged" / "model.safetensors").exists()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    release = _spec(
        tmp_path,
        f"  release:\n    trainer: hf\n    evaluator_only: true\n    model: {{id: {tmp_path / 'merged'}}}\n    train: {TRAIN}",
    )
    again = Engine(load_spec(release), Store(db), tmp_path)
    assert _outputs(again.store, again.run("release")) == _outputs(engine.store, run_id)


def test_an_adapter_over_a_hub_style_base_names_its_base_as_peft_expects(tmp_path: Path, tiny_hub_model: Path) -> None:
    lora = LORA + "}"
    spec = _spec(tmp_path, f"  lora:\n    trainer: hf\n    model: {{id: {tiny_hub_model}}}\n    train: {lora}")
    db = tmp_path / "runs.db"
    Engine(load_spec(spec), Store(db), tmp_path).run("lora")
    out = fteval_run("export-model", "latest", str(tmp_path / "adapter"), store=db)
    assert out.returncode == 0, out.stderr
    adapter = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_hub_model)
    front = _front_matter((tmp_path / "adapter" / "README.md").read_text())
    assert front["library_name"] == "peft"
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "adapter")
    assert type(model).__name__.startswith("Peft")


def test_a_chat_target_exports_its_tokenizer_with_the_chat_template(tmp_path: Path, tiny_hub_model: Path) -> None:
    from transformers import AutoTokenizer

    base = tmp_path / "chat-base"
    shutil.copytree(tiny_hub_model, base)
    template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(base)
    chat = TRAIN[:-1] + ", prompt_format: chat}"
    spec = _spec(tmp_path, f"  chat:\n    trainer: hf\n    model: {{id: {base}}}\n    train: {chat}")
    db = tmp_path / "runs.db"
    Engine(load_spec(spec), Store(db), tmp_path).run("chat")
    out = fteval_run("export-model", "latest", str(tmp_path / "rel"), store=db)
    assert out.returncode == 0, out.stderr
    assert AutoTokenizer.from_pretrained(tmp_path / "rel").chat_template == template
    card = (tmp_path / "rel" / "README.md").read_text()
    assert "Prompt format `chat`" in card and "<|user|>" in card and "<|assistant|>" in card
    assert "prompt_format: chat" in card  # the evaluator-only target the card suggests uses the template too
