"""Where the demo's training time goes: tokenizer, encoding, and one step split into its parts.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/demo_time.py
     [--vocab 2000] [--one-token-prefix] [--prompt reference|short] [--steps 20]

Trains the scratch tokenizer on the ViGGO train split with the chosen prompt, encodes the split, then
runs ``--steps`` optimizer steps of the tiny preset over the trainer's own batches (after 3 warm-up
steps) and reports, per step: the shared prefix's forward alone (batch 1), the whole loss forward
(prefix + suffixes), the backward, and the optimizer update, in wall and CPU seconds, with tokens per
row and the projected seconds per epoch. Evaluation decode is measured by the run itself
(``fteval show``); see the README's demo section.
"""

from __future__ import annotations

import argparse
import time

import torch
from _hf_common import viggo_examples
from _timing import Clock
from fteval_hf.config import TrainSettings
from fteval_hf.data import batch_of, encode_split
from fteval_hf.formatting import prompt_text
from fteval_hf.loop import make_schedule, optimizer_step
from fteval_hf.loss import causal_lm_loss, shared_prefix_length
from fteval_hf.scratch import build_scratch_model, shared_start, train_tokenizer


def main() -> None:
    """Print the time split of the demo's training for one tokenizer and prompt setting."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", choices=["reference", "short"], default="reference")
    ap.add_argument("--vocab", type=int, default=2000)
    ap.add_argument("--one-token-prefix", action="store_true", help="the shared instruction as one token")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    train = viggo_examples("train", args.prompt)

    tok_clock, enc_clock = Clock(), Clock()
    prompts = [prompt_text(ex.prompt) for ex in train]
    whole = [shared_start(prompts)] if args.one_token_prefix else []
    with tok_clock:
        texts = (p + ex.target for p, ex in zip(prompts, train, strict=True))
        tok = train_tokenizer(texts, args.vocab, whole)
    with enc_clock:
        split = encode_split(tok, train, 512)
    settings = TrainSettings(batch_size=args.batch_size, lr=1e-3, warmup_steps=100, epochs=1)
    schedule = make_schedule(split, settings, seed=0)
    model = build_scratch_model(args.preset, tok, 2048, seed=0)
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda _: 1.0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    parts = {name: Clock() for name in ("prefix forward", "loss forward", "backward", "optimizer")}
    prompt_lens = [r.prompt_len for r in split.rows]
    row_lens = [len(r.ids) for r in split.rows]
    shared = 0
    for i, idx in enumerate(schedule.micro_batches[: args.steps + 3]):
        timed = i >= 3
        batch = batch_of([split.rows[j] for j in idx], tok.pad_token_id)
        prefix = shared_prefix_length(batch["input_ids"], batch["prompt_lengths"])
        with torch.no_grad(), parts["prefix forward"] if timed else Clock():
            if prefix:
                model(input_ids=batch["input_ids"][:1, :prefix], use_cache=False, logits_to_keep=1)
        with parts["loss forward"] if timed else Clock():
            res = causal_lm_loss(model, batch, "auto")
        with parts["backward"] if timed else Clock():
            res.loss.backward()
        with parts["optimizer"] if timed else Clock():
            optimizer_step(trainable, optim, sched, 1.0)
        shared = max(shared, res.shared_prefix)
    steps = args.steps
    per_epoch = len(schedule.micro_batches)
    step_wall = sum(c.wall for name, c in parts.items() if name != "prefix forward") / steps
    print(
        f"prompt={args.prompt} vocab={args.vocab} one_token_prefix={args.one_token_prefix} preset={args.preset} "
        f"threads={torch.get_num_threads()} rows={len(split.rows)} batch={args.batch_size}"
    )
    print(
        f"tokens/row: prompt {sum(prompt_lens) / len(prompt_lens):.1f}, completion "
        f"{(sum(row_lens) - sum(prompt_lens)) / len(row_lens):.1f}; longest shared prefix {shared}"
    )
    print(f"tokenizer training: {tok_clock.wall:.2f} s wall, {tok_clock.cpu:.2f} s CPU")
    print(f"encoding the train split: {enc_clock.wall:.2f} s wall, {enc_clock.cpu:.2f} s CPU")
    for name, c in parts.items():
        print(f"{name:>15}: {1000 * c.wall / steps:7.1f} ms wall/step, {1000 * c.cpu / steps:7.1f} ms CPU/step")
    print(f"step (loss forward + backward + optimizer): {1000 * step_wall:.1f} ms; {per_epoch} steps/epoch")
    print(f"projected epoch: {step_wall * per_epoch:.1f} s wall ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
