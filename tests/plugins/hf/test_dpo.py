"""DPO in the hf plugin: the loss and rewards equal a hand computation; a DPO fit trains, logs reward curves and reloads."""

from __future__ import annotations

import dataclasses
import math

import pytest

pytest.importorskip("torch")

import torch  # noqa: E402
from fteval_hf.dpo import pair_loss  # noqa: E402
from fteval_hf.dpo_fit import encode_pairs  # noqa: E402
from fteval_hf.trainer import HFTrainer  # noqa: E402

from fteval.plugin import GenerationSettings  # noqa: E402


def _with_wrong_answers(examples):
    """Each example paired with a wrong answer: its colours reversed, or another colour."""
    out = []
    for ex in examples:
        parts = ex.target.split(", ")
        wrong = ", ".join(reversed(parts)) if len(set(parts)) > 1 else "purple"
        out.append(dataclasses.replace(ex, rejected=wrong))
    return out


def _row_logp(model, ids, prompt_len):
    """Summed log-prob of tokens prompt_len.. of one unpadded row, in Python floats."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[t - 1, ids[t]]) for t in range(prompt_len, len(ids)))


def test_dpo_loss_and_rewards_equal_a_hand_computation(tiny_hub_model, examples, one_torch_thread) -> None:
    from fteval_hf.config import LoraSettings
    from fteval_hf.lora import add_adapter
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_hub_model)
    model = add_adapter(AutoModelForCausalLM.from_pretrained(tiny_hub_model), LoraSettings(dropout=0.0))
    torch.manual_seed(3)
    with torch.no_grad():  # a trained-looking adapter: B starts at zero, which would make policy == reference
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    model.eval()
    pairs = encode_pairs(tokenizer, _with_wrong_answers(examples[:6]), 128)
    beta = 0.5
    res = pair_loss(model, model.disable_adapter, pairs.chosen, pairs.rejected, tokenizer.pad_token_id, beta)

    losses, chosen_rewards, rejected_rewards = [], [], []
    for c, r in zip(pairs.chosen, pairs.rejected, strict=True):
        pc, pr = _row_logp(model, c.ids, c.prompt_len), _row_logp(model, r.ids, r.prompt_len)
        with model.disable_adapter():
            rc, rr = _row_logp(model, c.ids, c.prompt_len), _row_logp(model, r.ids, r.prompt_len)
        z = beta * ((pc - rc) - (pr - rr))
        losses.append(math.log1p(math.exp(-z)))  # -log(sigmoid(z))
        chosen_rewards.append(beta * (pc - rc))
        rejected_rewards.append(beta * (pr - rr))
    n = len(losses)
    assert n == 6 and res.pairs == 6
    assert float(res.loss.detach()) == pytest.approx(sum(losses) / n, rel=1e-5)
    assert res.chosen_reward == pytest.approx(sum(chosen_rewards) / n, rel=1e-4, abs=1e-6)
    assert res.rejected_reward == pytest.approx(sum(rejected_rewards) / n, rel=1e-4, abs=1e-6)
    margins = [c - r for c, r in zip(chosen_rewards, rejected_rewards, strict=True)]
    assert res.margin == pytest.approx(sum(margins) / n, rel=1e-4, abs=1e-6)
    assert res.accuracy == pytest.approx(sum(m > 0 for m in margins) / n)
    assert 0 < res.accuracy < 1  # the check sees both outcomes on this batch
    res.loss.backward()  # the loss reaches the adapter only
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_pairs_without_a_rejected_answer_are_refused(tiny_hub_model, examples) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_hub_model)
    with pytest.raises(ValueError, match=r"data rows \[1, 2\] have no rejected answer"):
        encode_pairs(tokenizer, examples[:2], 128)


def test_a_dpo_fit_logs_reward_curves_and_reloads(tiny_hub_model, examples, make_ctx, one_torch_thread) -> None:
    from fteval_hf.generator import HFGenerator

    rows = _with_wrong_answers(examples)
    train = {"method": "dpo", "beta": 0.5, "max_steps": 8, "batch_size": 8, "lr": 5e-3, "warmup_steps": 0}
    train |= {"eval_every": 4, "lora": {"dropout": 0.0}}
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": train})
    ctx = make_ctx(rows, rows[:8])
    handle = HFTrainer(config).fit(ctx)
    losses = [v for _, v in ctx.curve("loss")]
    assert losses[0] == pytest.approx(math.log(2), rel=1e-5)  # step 1: the fresh adapter is the reference
    assert losses[-1] < losses[0] - 0.03  # DPO pulled the policy towards the preferred answers
    assert [s for s, _ in ctx.curve("reward_margin")] == list(range(1, 9))
    assert ctx.curve("reward_accuracy")[-1][1] > 0.5 and ctx.curve("reward_margin")[-1][1] > 0
    assert [s for s, _ in ctx.curve("eval_reward_accuracy")] == [4, 8]
    assert ctx.stats["train_pairs"] == 48 and ctx.stats["steps"] == 8 and ctx.stats["beta"] == 0.5
    assert handle.meta["method"] == "lora" and handle.meta["trained_by"] == "dpo"
    loaded = HFGenerator().load(handle, config, GenerationSettings(max_new_tokens=4))
    assert len(loaded.generate([rows[0].prompt])) == 1
