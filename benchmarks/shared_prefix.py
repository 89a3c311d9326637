"""Shared-prefix training and generation vs the plain paths, same model and batches, one run.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/shared_prefix.py [--quick] [--threshold]

Prints training tokens/s (counting the tokens a plain padded batch processes) on the reference
ViGGO and SQL prompts, generation examples/s on ViGGO test prompts (shared prefix vs batched
plain vs one transformers ``generate`` per example), and the ratios. ``--threshold`` measures the
shortest shared prefix that pays (the ``auto`` cut-off).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from typing import Any

import torch
from _hf_common import DATA, VIGGO_SYSTEM
from _timing import Clock
from fteval_hf.batching import plan_batches
from fteval_hf.decode import generate
from fteval_hf.formatting import encode_example, prompt_text
from fteval_hf.loss import causal_lm_loss, collate, shared_prefix_length
from fteval_hf.scratch import build_scratch_model, train_tokenizer

from fteval.plugin import Prompt

SQL_SYSTEM = (
    "You are a powerful text-to-SQL model. Your job is to answer questions about a database. You are "
    "given a question and context regarding one or more tables.\n\nYou must output the SQL query that "
    "answers the question.\n\n### Context:\n"
)


def viggo_rows(split: str) -> list[tuple[Prompt, str]]:
    """(prompt, target) pairs with the reference ViGGO prompt (as in specs/base/viggo.yaml)."""
    with (DATA / "viggo" / f"{split}.csv").open() as f:
        return [(Prompt(VIGGO_SYSTEM, r["ref"]), r["mr"]) for r in csv.DictReader(f)]


def sql_rows() -> list[tuple[Prompt, str]]:
    """(prompt, target) pairs with the reference text-to-SQL prompt (as in specs/base/sql.yaml)."""
    rows = json.loads((DATA / "sql" / "train.json").read_text())
    return [(Prompt(SQL_SYSTEM + r["context"], r["question"]), r["answer"]) for r in rows]


def setup(rows: list[tuple[Prompt, str]]) -> tuple[Any, Callable[[], Any]]:
    """The tiny preset's tokenizer (2,000-token BPE trained on the rows) and a model factory."""
    tok = train_tokenizer([prompt_text(p) + t for p, t in rows], vocab_size=2000)
    return tok, lambda: build_scratch_model("tiny", tok, max_positions=1024, seed=0)


def encode(tok: Any, rows: list[tuple[Prompt, str]]) -> tuple[list[list[int]], list[list[int]]]:
    """Prompt ids (with BOS) and completion ids (with EOS) per row, as the trainer encodes them."""
    encoded = [encode_example(tok, p, t, max_len=1024) for p, t in rows]
    return [list(e.ids[: e.prompt_len]) for e in encoded], [list(e.ids[e.prompt_len :]) for e in encoded]


def _step(model: Any, optim: Any, batch: dict[str, torch.Tensor], mode: str) -> Any:
    """One optimizer step; ``hf`` is the reference recipe's loss (logits at every position)."""
    if mode == "hf":
        keys = ("input_ids", "attention_mask", "labels")
        loss = model(**{k: batch[k] for k in keys}).loss
    else:
        loss = causal_lm_loss(model, batch, mode).loss
    optim.zero_grad()
    loss.backward()
    optim.step()
    return loss.item()


def bench_training(name: str, rows: list[tuple[Prompt, str]], batches: int, batch_size: int) -> Any:
    """Train identical models over the same batches: shared prefix, plain, and HF's own loss.

    Returns the tokenizer and model factory, for the generation benchmark.
    """
    tok, new_model = setup(rows)
    prompts, targets = encode(tok, rows)
    plan = plan_batches(
        [p + t for p, t in zip(prompts, targets, strict=False)],
        batch_size,
        seed=0,
        prompt_lengths=[len(p) for p in prompts],
        group_by_prefix=True,
    )
    modes = ("off", "on", "hf")
    models = {mode: new_model() for mode in modes}
    # Fused AdamW: the per-step fixed cost would otherwise dilute every ratio (31 vs 12 ms here).
    optims = {m: torch.optim.AdamW(models[m].parameters(), lr=1e-3, fused=True) for m in models}
    clocks = {m: Clock() for m in modes}
    losses: dict[str, list[float]] = {m: [] for m in modes}
    tokens = saved = 0
    for step, idx in enumerate(plan.batches[: batches + 1]):  # the first one warms up
        batch = collate([prompts[i] for i in idx], [targets[i] for i in idx], pad_token_id=tok.pad_token_id)
        for mode in modes:
            with clocks[mode] if step else Clock():
                loss = _step(models[mode], optims[mode], batch, mode)
            if step:
                losses[mode].append(loss)
        if step:
            tokens += batch["input_ids"].numel()
            shared = shared_prefix_length(batch["input_ids"], batch["prompt_lengths"])
            saved += (len(idx) - 1) * shared
    prefix_saved = plan.prefix_saved_fraction
    computed = 1 - saved / tokens
    tps = {m: tokens / clocks[m].wall for m in modes}
    cpu = {m: clocks[m].cpu for m in modes}
    mean_prompt = sum(map(len, prompts)) / len(prompts)
    mean_row = mean_prompt + sum(map(len, targets)) / len(targets)
    drift = max(abs(a - b) for a, b in zip(losses["off"], losses["on"], strict=False))
    print(
        f"train {name}: {len(rows)} rows, {mean_row:.0f} tokens/row ({mean_prompt:.0f} prompt); "
        f"plan: padding {plan.padding_fraction:.1%}, prompt tokens saved {prefix_saved:.1%}\n"
        f"  {batches} batches of {batch_size}, tokens/s (plain-batch tokens): shared {tps['on']:,.0f}, "
        f"plain {tps['off']:,.0f}, HF loss {tps['hf']:,.0f}; max |loss diff| shared-plain {drift:.1e}\n"
        f"  the shared path computes {computed:.1%} of the plain batches' tokens\n"
        f"  shared / plain = {tps['on'] / tps['off']:.2f}x wall, {cpu['off'] / cpu['on']:.2f}x cpu; "
        f"shared / HF loss = {tps['on'] / tps['hf']:.2f}x wall, {cpu['hf'] / cpu['on']:.2f}x cpu"
    )
    return tok, new_model


def bench_generation(
    tok: Any,
    new_model: Callable[[], Any],
    n: int,
    per_example: int,
    batch_size: int,
    max_new_tokens: int,
) -> None:
    """Examples/s: shared prefix vs batched plain vs one transformers generate per example."""
    prompts, _ = encode(tok, viggo_rows("test")[:n])
    model = new_model().eval()
    # A random model never emits EOS: every row decodes max_new_tokens, equal work on every path.
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "eos_token_id": None,
        "pad_token_id": tok.pad_token_id,
        "batch_size": batch_size,
    }
    generate(model, prompts[:batch_size], **kwargs)  # warm-up
    clocks = {m: Clock() for m in ("off", "on", "single")}
    outputs = {}
    for mode in ("off", "on"):
        with clocks[mode]:
            outputs[mode] = generate(model, prompts, shared_prefix=mode, **kwargs)
    with clocks["single"], torch.inference_mode():
        for p in prompts[:per_example]:
            model.generate(
                torch.tensor([p]),
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
    counts = {"off": n, "on": n, "single": per_example}
    rate = {m: counts[m] / clocks[m].wall for m in clocks}
    cpu_rate = {m: counts[m] / clocks[m].cpu for m in clocks}
    same = outputs["off"] == outputs["on"]
    print(
        f"generate viggo: {n} test prompts, {sum(map(len, prompts)) / n:.0f} prompt tokens, "
        f"{max_new_tokens} new tokens each, batch {batch_size}; token-identical: {same}\n"
        f"  shared {rate['on']:.1f} ex/s, batched plain {rate['off']:.1f} ex/s, one generate per example "
        f"{rate['single']:.2f} ex/s (on {per_example} prompts)\n"
        f"  shared / batched plain = {rate['on'] / rate['off']:.2f}x; "
        f"shared / per-example = {rate['on'] / rate['single']:.1f}x; "
        f"batched plain / per-example = {rate['off'] / rate['single']:.1f}x\n"
        f"  by cpu time: shared / batched plain = {cpu_rate['on'] / cpu_rate['off']:.2f}x; "
        f"shared / per-example = {cpu_rate['on'] / cpu_rate['single']:.1f}x; "
        f"batched plain / per-example = {cpu_rate['off'] / cpu_rate['single']:.1f}x"
    )


def bench_threshold(batch_size: int = 32, suffix: int = 60, repeats: int = 5) -> None:
    """Step time plain vs shared, synthetic batches sharing 0..64 prompt tokens (best of N, interleaved)."""
    tok, new_model = setup(viggo_rows("valid"))
    model = new_model()
    gen = torch.Generator().manual_seed(0)
    for shared in (0, 2, 4, 8, 16, 32, 64):
        head = torch.randint(2, 2000, (shared,), generator=gen).tolist()
        prompts = [head + torch.randint(2, 2000, (suffix - 20,), generator=gen).tolist() for _ in range(batch_size)]
        comps = [torch.randint(2, 2000, (20,), generator=gen).tolist() for _ in range(batch_size)]
        batch = collate(prompts, comps, pad_token_id=tok.pad_token_id)
        wall = {"off": float("inf"), "on": float("inf")}
        cpu = dict(wall)
        for _ in range(repeats):
            for mode in ("off", "on"):
                with Clock() as clock:
                    causal_lm_loss(model, batch, mode).loss.backward()
                wall[mode], cpu[mode] = min(wall[mode], clock.wall), min(cpu[mode], clock.cpu)
        print(
            f"threshold: shared {shared:3d} + {suffix} tokens/row: wall plain {wall['off'] * 1e3:6.1f} ms, "
            f"shared {wall['on'] * 1e3:6.1f} ms -> {wall['off'] / wall['on']:.2f}x; "
            f"cpu -> {cpu['off'] / cpu['on']:.2f}x"
        )


def main() -> None:
    """Parse flags and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and prompts")
    parser.add_argument("--threshold", action="store_true", help="only measure the auto threshold")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.threshold:
        bench_threshold()
        return
    steps = 3 if args.quick else 8
    print(f"torch threads: {torch.get_num_threads()}; tiny preset, 2,000-token BPE per task")
    tok, new_model = bench_training("viggo", viggo_rows("train"), steps, 32)
    bench_training("sql", sql_rows(), steps, 32)
    n, single = (100, 10) if args.quick else (300, 30)
    bench_generation(tok, new_model, n=n, per_example=single, batch_size=50, max_new_tokens=32)


if __name__ == "__main__":
    main()
