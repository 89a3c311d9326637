"""The hf trainer end to end on tiny models: saved model, stats, curves, eval, early stopping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from fteval_hf.trainer import HFTrainer
from transformers import AutoModelForCausalLM, AutoTokenizer


def test_hub_model_full_finetune_saves_a_reloadable_model(tiny_hub_model, examples, make_ctx, hf_config) -> None:
    ctx = make_ctx(examples[:40], examples[40:])
    handle = HFTrainer(hf_config({"id": str(tiny_hub_model)}, max_steps=8)).fit(ctx)
    model = AutoModelForCausalLM.from_pretrained(handle.location)
    tok = AutoTokenizer.from_pretrained(handle.location)
    assert model.config.hidden_size == 64 and tok.eos_token_id is not None
    assert len(handle.fingerprint) == 64 and handle.meta["method"] == "full"
    losses = [v for _, v in ctx.curve("loss")]
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert [s for s, _ in ctx.curve("eval_loss")] == [3, 6, 8]
    stats = ctx.stats
    assert stats["steps"] == 8 and stats["trained_tokens"] > 0 and stats["wall_s"] > 0
    assert 0 <= stats["padding_fraction"] < 0.5 and stats["peak_memory_mb"] > 0
    assert stats["truncated_rows"] == 0 and stats["device"] == "cpu"
    assert ctx.bars[0].total == 8 and ctx.bars[0].done == 8 and "tok_s" in ctx.bars[0].fields


def test_refit_of_a_finished_target_returns_the_same_model(tiny_hub_model, examples, make_ctx, hf_config) -> None:
    config = hf_config({"id": str(tiny_hub_model)}, max_steps=2)
    first = HFTrainer(config).fit(make_ctx(examples))
    again_ctx = make_ctx(examples)
    again = HFTrainer(config).fit(again_ctx)
    assert again.fingerprint == first.fingerprint and again_ctx.logs == []
    assert again_ctx.stats["steps"] == 2


def test_fingerprint_follows_the_weights(tiny_hub_model, examples, make_ctx, hf_config, tmp_path) -> None:
    a = HFTrainer(hf_config({"id": str(tiny_hub_model)}, max_steps=2, seed=1)).fit(
        make_ctx(examples, workdir=tmp_path / "a")
    )
    b = HFTrainer(hf_config({"id": str(tiny_hub_model)}, max_steps=2, seed=2)).fit(
        make_ctx(examples, workdir=tmp_path / "b")
    )
    assert a.fingerprint != b.fingerprint


def test_truncated_rows_are_counted(tiny_hub_model, examples, make_ctx, hf_config) -> None:
    ctx = make_ctx(examples)
    HFTrainer(hf_config({"id": str(tiny_hub_model)}, max_steps=1, max_seq_len=12)).fit(ctx)
    lengths = [len(e.prompt.user) for e in examples]
    assert 0 < ctx.stats["truncated_rows"] <= len(lengths)


def test_cost_uses_the_cpu_price_on_cpu(tiny_hub_model, examples, make_ctx) -> None:
    from fteval_hf.config import HFConfig

    config = HFConfig.model_validate(
        {
            "model": {"id": str(tiny_hub_model)},
            "train": {"max_steps": 2, "batch_size": 8},
            "cost": {"gpu_hour_usd": 1000.0, "cpu_hour_usd": 3600.0},
        }
    )
    ctx = make_ctx(examples)
    HFTrainer(config).fit(ctx)
    assert ctx.stats["cost_usd"] == pytest.approx(ctx.stats["wall_s"], abs=0.002)


def test_early_stopping_keeps_the_best_checkpoint(tiny_hub_model, examples, make_ctx, hf_config) -> None:
    ctx = make_ctx(examples[:40], examples[40:])
    config = hf_config(
        {"id": str(tiny_hub_model)},
        max_steps=40,
        lr=3.0,
        scheduler="constant",
        warmup_steps=0,
        eval_every=2,
        early_stopping_patience=2,
        keep="best",
        max_grad_norm=None,
    )
    handle = HFTrainer(config).fit(ctx)
    evals = ctx.curve("eval_loss")
    best_step, best = min(evals, key=lambda e: e[1])
    assert ctx.stats["stopped_early"] == 1 and ctx.stats["steps"] < 40
    assert ctx.stats["best_step"] == best_step and ctx.stats["best_eval_loss"] == pytest.approx(best)
    assert json.loads((Path(handle.location) / "fteval_hf.json").read_text())["stats"]["best_step"] == best_step


def test_scratch_tiny_preset_trains_its_own_tokenizer(examples, make_ctx, hf_config) -> None:
    ctx = make_ctx(examples)
    handle = HFTrainer(hf_config({"init": "scratch", "preset": "tiny", "vocab_size": 300}, max_steps=1)).fit(ctx)
    tok = AutoTokenizer.from_pretrained(handle.location)
    model = AutoModelForCausalLM.from_pretrained(handle.location)
    assert len(tok) == 300 and model.config.num_hidden_layers == 4 and model.config.hidden_size == 256
    assert 3_000_000 < ctx.stats["trainable_params"] < 5_000_000
    text = "Colours of: sea, sun\nblue, violet"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_scratch_one_token_prefix_reads_the_shared_instruction_as_one_token(make_examples, make_ctx, hf_config) -> None:
    system = "Name the colours of the things listed, in order, separated by commas."
    ctx = make_ctx(make_examples(48, system=system))
    model = {"init": "scratch", "preset": "tiny", "vocab_size": 300, "one_token_prefix": True}
    handle = HFTrainer(hf_config(model, max_steps=1)).fit(ctx)
    tok = AutoTokenizer.from_pretrained(handle.location)
    prompt = f"{system}\n\nColours of: sea, sun\n"
    ids = tok(prompt)["input_ids"]
    assert tok.decode(ids[1:2]) == f"{system}\n\nColours of: "  # the text all 48 training prompts start with
    assert tok.decode(ids, skip_special_tokens=True) == prompt
    assert len(tok) == 301  # the trained vocabulary plus that one token
