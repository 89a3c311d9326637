"""Training tokens/s of the hf trainer vs the reference recipe (HF Trainer), same model and data.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/train_throughput.py [--steps 40]
     [--prompt reference|short]

Both train the tiny preset (same tokenizer, same initial weights) for the same number of steps of
32 rows on ViGGO train. The reference recipe is transformers' Trainer with DataCollatorForSeq2Seq,
``train_sampling_strategy="group_by_length"`` and labels = the full input. tokens/s counts real
(non-padding) tokens. fteval runs with ``shared_prefix: off`` (equal FLOPs); a second line shows
``shared_prefix: auto`` (the shared-prefix issue's speed-up) for reference.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _hf_common import viggo_examples
from fteval_hf.trainer import HFTrainer

from fteval.testing import RecordingTrainContext


def fteval_rate(examples, steps: int, batch: int, workdir: Path, shared: str) -> tuple[float, dict]:
    """tokens/s of HFTrainer.fit over ``steps`` steps (its own loop timer)."""
    config = HFTrainer.Config.model_validate(
        {
            "model": {"init": "scratch", "preset": "tiny"},
            "train": {
                "max_steps": steps,
                "batch_size": batch,
                "lr": 1e-3,
                "warmup_steps": 10,
                "eval_every": None,
                "save_every": 10**6,
                "shared_prefix": shared,
            },
        }
    )
    ctx = RecordingTrainContext(examples, workdir=workdir)
    HFTrainer(config).fit(ctx)
    return ctx.stats["trained_tokens"] / ctx.stats["wall_s"], ctx.stats


def reference_rate(examples, steps: int, batch: int, init_dir: Path, out: Path) -> float:
    """tokens/s of transformers' Trainer with the reference recipe (same tokenizer and init)."""
    from fteval_hf.formatting import encode_example
    from fteval_hf.scratch import build_scratch_model
    from transformers import (
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(init_dir)
    model = build_scratch_model("tiny", tok, 2048, seed=0)
    rows = []
    for ex in examples:
        ids = list(encode_example(tok, ex.prompt, ex.target, 512).ids)
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids})

    class CountingCollator(DataCollatorForSeq2Seq):
        tokens = 0

        def __call__(self, features, return_tensors=None):
            batch_ = super().__call__(features, return_tensors)
            CountingCollator.tokens += int(batch_["attention_mask"].sum())
            return batch_

    class Clock(TrainerCallback):
        start = end = 0.0

        def on_train_begin(self, *a, **k):
            Clock.start = time.perf_counter()

        def on_train_end(self, *a, **k):
            Clock.end = time.perf_counter()

    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        max_steps=steps,
        learning_rate=1e-3,
        warmup_steps=10,
        lr_scheduler_type="cosine",
        train_sampling_strategy="group_by_length",
        logging_steps=10**6,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=CountingCollator(tok, padding=True),
        callbacks=[Clock()],
    )
    trainer.train()
    return CountingCollator.tokens / (Clock.end - Clock.start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt", choices=["reference", "short"], default="reference")
    ap.add_argument("--no-shared", action="store_true", help="skip the shared_prefix: auto line")
    args = ap.parse_args()
    examples = viggo_examples("train", args.prompt)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ours, stats = fteval_rate(examples, args.steps, args.batch, root / "fteval", "off")
        ref = reference_rate(examples, args.steps, args.batch, root / "fteval" / "init", root / "hf")
        print(f"prompt={args.prompt} steps={args.steps} batch={args.batch} threads={stats['threads']}")
        print(f"fteval trainer (shared_prefix off): {ours:8.0f} tokens/s  padding {stats['padding_fraction']:.3f}")
        print(f"reference HF Trainer recipe:        {ref:8.0f} tokens/s")
        print(f"ratio fteval / reference:           {ours / ref:8.2f}x")
        if not args.no_shared:
            shared, sstats = fteval_rate(examples, args.steps, args.batch, root / "shared", "auto")
            print(
                f"fteval trainer (shared_prefix auto):{shared:8.0f} tokens/s  "
                f"prefix saved {sstats['prefix_saved_fraction']:.3f}  ratio {shared / ref:.2f}x"
            )


if __name__ == "__main__":
    main()
