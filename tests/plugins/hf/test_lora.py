"""LoRA through peft: only the adapter trains, it is saved alone, and generation runs through it."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fteval_hf.generator import HFGenerator
from fteval_hf.trainer import HFTrainer

from fteval.plugin import GenerationSettings


def test_lora_trains_only_the_adapter_and_generates_through_it(tiny_hub_model, examples, make_ctx, hf_config) -> None:
    config = hf_config({"id": str(tiny_hub_model)}, method="lora", lr=1e-2, max_steps=4)
    ctx = make_ctx(examples)
    handle = HFTrainer(config).fit(ctx)
    # 2 layers x q/k/v/o x r 8 x (64 in + 64 out)
    assert ctx.stats["trainable_params"] == 2 * 4 * 8 * (64 + 64)
    saved = {p.name for p in Path(handle.location).iterdir()}
    assert "adapter_config.json" in saved and "model.safetensors" not in saved
    assert handle.meta["base"]["id"] == str(tiny_hub_model)

    prompts = [e.prompt for e in examples[:8]]
    settings = GenerationSettings(max_new_tokens=10)
    unmerged = HFGenerator().load(handle, config, settings)
    assert type(unmerged.model).__name__.startswith("Peft")
    merged_cfg = hf_config({"id": str(tiny_hub_model)}, method="lora", lora={"merge": True})
    merged = HFGenerator().load(handle, merged_cfg, settings)
    assert not type(merged.model).__name__.startswith("Peft")
    assert [g.text for g in unmerged.generate(prompts)] == [g.text for g in merged.generate(prompts)]


def test_lora_on_a_scratch_model_saves_its_base(examples, make_ctx, hf_config) -> None:
    config = hf_config({"init": "scratch", "vocab_size": 300}, method="lora", max_steps=1)
    handle = HFTrainer(config).fit(make_ctx(examples))
    assert (Path(handle.meta["base"]["dir"]) / "config.json").exists()
    out = HFGenerator().load(handle, config, GenerationSettings(max_new_tokens=3)).generate([examples[0].prompt])
    assert out[0].completion_tokens <= 3
