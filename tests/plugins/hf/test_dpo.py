"""DPO in the hf plugin: the loss and rewards equal a hand computation; a DPO fit trains, logs reward curves and reloads."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from fteval_testutil import wait_until

pytest.importorskip("torch")

import torch
from fteval_hf.dpo import pair_batch, pair_loss
from fteval_hf.dpo_fit import encode_pairs
from fteval_hf.loss import shared_prefix_length
from fteval_hf.trainer import HFTrainer

from fteval.plugin import GenerationSettings


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


@pytest.mark.parametrize("shared_prefix", ["off", "on"])
def test_dpo_loss_and_rewards_equal_a_hand_computation(
    tiny_hub_model, examples, one_torch_thread, shared_prefix
) -> None:
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
    pad = tokenizer.pad_token_id
    batch = pair_batch(pairs.chosen, pairs.rejected, pad)
    assert shared_prefix_length(batch["input_ids"], batch["prompt_lengths"]) >= 3  # "on" has a prefix to share
    res = pair_loss(model, model.disable_adapter, pairs.chosen, pairs.rejected, pad, beta, shared_prefix)

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


DPO_TRAIN = {"method": "dpo", "beta": 0.5, "max_steps": 10, "save_every": 4, "batch_size": 6, "lr": 3e-3}
DPO_TRAIN |= {"warmup_steps": 2, "eval_every": 5, "lora": {"dropout": 0.1}}  # dropout: the RNG state is restored too

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from fteval.testing import RecordingTrainContext, examples
    from fteval_hf.trainer import HFTrainer

    model, workdir, flag, train = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
    rows = examples([tuple(r) for r in json.loads(sys.stdin.read())])

    class Hanging(RecordingTrainContext):
        def log(self, step, **values):
            super().log(step, **values)
            if step == 9 and "loss" in values:
                flag.write_text("hung")
                time.sleep(600)  # the behaviour under test: a job hung mid-training, until the test kills it

    config = HFTrainer.Config.model_validate({"model": {"id": model}, "train": train})
    HFTrainer(config).fit(Hanging(rows, rows[:6], workdir))
    """
)


def test_a_killed_dpo_job_resumes_at_its_checkpoint_and_ends_where_an_unbroken_one_does(
    tiny_hub_model, examples, make_ctx, tmp_path
) -> None:
    rows = _with_wrong_answers(examples[:30])
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": DPO_TRAIN})
    straight = make_ctx(rows, rows[:6], workdir=tmp_path / "straight")
    HFTrainer(config).fit(straight)

    workdir, flag = tmp_path / "killed", tmp_path / "hung"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tiny_hub_model), str(workdir), str(flag), json.dumps(DPO_TRAIN)],
        stdin=subprocess.PIPE,
        env=env,
        text=True,
    )
    child.stdin.write(json.dumps([(e.prompt.user, e.target, e.rejected) for e in rows]))
    child.stdin.close()
    wait_until(lambda: flag.exists() or child.poll() is not None, 180, what="the child's hang")
    assert flag.exists(), "the child never reached the step where it hangs"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (workdir / "checkpoints" / "latest").read_text() == "step-0000008"
    assert not (workdir / "model").exists()

    resumed = make_ctx(rows, rows[:6], workdir=workdir)
    HFTrainer(config).fit(resumed)
    assert [s for s, _ in resumed.curve("loss")] == [9, 10]
    assert resumed.bars[0].description == "dpo (resumed at step 8)" and resumed.bars[0].done == 10
    for name in ("final_loss", "final_reward_accuracy", "final_reward_margin"):
        assert resumed.stats[name] == pytest.approx(straight.stats[name], rel=1e-5, abs=1e-7), name
    assert resumed.curve("eval_loss")[-1][1] == pytest.approx(straight.curve("eval_loss")[-1][1], rel=1e-5)
    assert resumed.stats["trained_tokens"] == straight.stats["trained_tokens"]
