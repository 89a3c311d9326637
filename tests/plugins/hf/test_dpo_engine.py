"""SFT then DPO through the real engine and store: two recorded jobs, pairs from the SFT model's wrong outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_testutil import SPECS

pytest.importorskip("torch")

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

SFT = "{method: full, epochs: null, max_steps: 4, lr: 1.0e-3, warmup_steps: 1, batch_size: 16, eval_every: null}"
DPO = "{method: dpo, beta: 0.2, max_steps: 3, lr: 1.0e-3, warmup_steps: 0, batch_size: 8, save_every: 2}"


def _spec(tmp_path: Path, sft_steps: int = 4, max_new_tokens: int = 12) -> Path:
    spec = tmp_path / "dpo.yaml"
    spec.write_text(
        f"""extends: {SPECS / "viggo.yaml"}
name: viggo-dpo-smoke
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}, limit: 24}}
  valid: null
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: 6}}
generation: {{max_new_tokens: {max_new_tokens}}}
targets:
  sft:
    trainer: hf
    model: {{init: scratch, preset: tiny, vocab_size: 400}}
    train: {SFT.replace("max_steps: 4", f"max_steps: {sft_steps}")}
  sft-dpo:
    trainer: hf
    model: {{init: scratch, preset: tiny, vocab_size: 400}}
    after: sft
    rejected_from: sft
    train: {DPO}
"""
    )
    return spec


def test_sft_then_dpo_on_the_sft_models_wrong_outputs(tmp_path: Path, one_torch_thread) -> None:
    loaded = load_spec(_spec(tmp_path))
    assert loaded.spec.dataset.valid is None
    engine = Engine(loaded, Store(tmp_path / "runs.db"), tmp_path)
    job_id, handle = engine.train("sft-dpo")
    sft = engine.store.job(engine.job_key("sft"))
    dpo = engine.store.job_by_id(job_id)
    assert sft is not None and sft.status == "done" and dpo.status == "done" and sft.id != dpo.id
    # a barely trained scratch model answers every row wrong: each row is a pair
    assert dpo.stats["train_rows_answered"] == 24 and dpo.stats["train_pairs"] == 24
    assert dpo.stats["steps"] == 3 and dpo.stats["final_reward_accuracy"] is not None
    names = {p.name for p in engine.store.job_curve(dpo.id)}
    assert {"loss", "reward_accuracy", "reward_margin", "chosen_reward", "rejected_reward"} <= names
    assert handle.meta["method"] == "full" and handle.meta["base"]["after"] == sft.handle.fingerprint
    calls = engine.model_calls
    run_id = engine.evaluate("sft-dpo", job_id, handle)
    assert engine.store.get_run(run_id).status == "complete" and engine.model_calls == calls + 6

    # a second engine reuses both jobs and the stored SFT outputs (no model call, no training)
    again = Engine(load_spec(_spec(tmp_path)), Store(tmp_path / "runs.db"), tmp_path)
    assert again.train("sft-dpo") == (job_id, handle) and again.model_calls == 0
    # a changed SFT job is a new base for DPO: a new DPO job key
    other = Engine(load_spec(_spec(tmp_path, sft_steps=5)), Store(tmp_path / "runs.db"), tmp_path)
    other.train("sft")
    assert other.job_key("sft-dpo") != engine.job_key("sft-dpo")
    # so are other decoding settings of the outputs the pairs come from (the SFT job itself is reused)
    longer = Engine(load_spec(_spec(tmp_path, max_new_tokens=16)), Store(tmp_path / "runs.db"), tmp_path)
    assert longer.job_key("sft") == engine.job_key("sft")
    assert longer.job_key("sft-dpo") != engine.job_key("sft-dpo")
