"""The hf trainer and generator driven by the real engine and store, on a tiny scratch model."""

from __future__ import annotations

from pathlib import Path

from fteval_testutil import SPECS

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        f"""extends: {SPECS / "viggo.yaml"}
name: viggo-smoke
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}, limit: 96}}
  valid: {{path: {SPECS / "data/viggo/valid.csv"}, limit: 16}}
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: 12}}
generation: {{max_new_tokens: 24}}
targets:
  tiny:
    trainer: hf
    model: {{init: scratch, preset: tiny, vocab_size: 400}}
    train: {{method: full, epochs: null, max_steps: 6, lr: 1.0e-3, warmup_steps: 2, batch_size: 16, eval_every: 3}}
    cost: {{cpu_hour_usd: 1.0}}
"""
    )
    return spec


def test_hf_target_trains_evaluates_and_reuses_everything(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    engine = Engine(load_spec(spec), Store(tmp_path / "runs.db"), tmp_path)
    run_id = engine.run("tiny")
    run = engine.store.get_run(run_id)
    assert run.status == "complete" and run.is_baseline == 0 and run.n_examples == 12
    job = engine.store.job_by_id(run.job_id)
    stats = job.stats
    assert stats["trained_tokens"] > 0 and 0 < stats["cost_usd"] < 1.0
    curve = {(r.step, r.name) for r in engine.store.job_curve(job.id)}
    assert (6, "loss") in curve and any(name == "eval_loss" for _, name in curve)
    examples = engine.store.examples(run_id)
    assert all(e.completion_tokens is not None and e.latency_s > 0 for e in examples)
    metrics = {a.metric for a in engine.store.aggregates(run_id)}
    assert {"char_exact", "exact_match", "slot_f1", "parse_rate"} <= metrics
    assert engine.model_calls == 12
    # the same command again trains nothing and calls the model zero times
    again = Engine(load_spec(spec), Store(tmp_path / "runs.db"), tmp_path)
    assert again.run("tiny", rerun=True) != run_id and again.model_calls == 0
    assert [e.output for e in again.store.examples(again.store.get_run("latest").id)] == [e.output for e in examples]
