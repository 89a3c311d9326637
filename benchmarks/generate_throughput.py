"""Examples/s of the hf generator (batched, length-bucketed) vs one generate() per example.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/generate_throughput.py [--model DIR] [--n 300]

The baseline is the reference notebook's eval loop: one transformers ``model.generate`` call per
example (greedy, max_new_tokens 128). Both use the same model and the same 300 ViGGO test prompts,
and the script checks that they produce the same texts. ``--model`` takes a model folder saved by
the hf trainer (e.g. .fteval/.../model); without it a tiny model is trained first
(``--train-steps``, sentence-only prompt) so that outputs end at EOS as a trained model's do.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _hf_common import viggo_examples
from fteval_hf.generator import HFGenerator
from fteval_hf.trainer import HFTrainer

from fteval.plugin import GenerationSettings, ModelHandle
from fteval.testing import RecordingTrainContext


def train_quick(prompt: str, steps: int, workdir: Path) -> tuple[ModelHandle, object]:
    """A tiny model trained for ``steps`` steps, so that its outputs are realistic."""
    config = HFTrainer.Config.model_validate(
        {
            "model": {"init": "scratch", "preset": "tiny"},
            "train": {"max_steps": steps, "lr": 1e-3, "warmup_steps": 50, "eval_every": None},
        }
    )
    return HFTrainer(config).fit(RecordingTrainContext(viggo_examples("train", prompt), workdir=workdir)), config


def per_example(loaded, prompts, max_new: int) -> tuple[list[str], float]:
    """The baseline: one ``generate`` call per prompt; returns texts and seconds."""
    import torch
    from fteval_hf.formatting import encode_prompt

    model, tok = loaded.model, loaded.tokenizer
    texts, start = [], time.perf_counter()
    with torch.inference_mode():
        for p in prompts:
            ids = torch.tensor([encode_prompt(tok, p, loaded.prompt_format)])
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
            )
            texts.append(tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return texts, time.perf_counter() - start


def batched(loaded, prompts) -> tuple[list[str], float]:
    """The hf generator's path: one call over all prompts (it sorts by length and batches)."""
    start = time.perf_counter()
    outs = loaded.generate(prompts)
    return [g.text for g in outs], time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a model folder saved by the hf trainer")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--prompt", choices=["reference", "short"], default="short")
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=None, help="forward batch; default automatic")
    args = ap.parse_args()
    prompts = [e.prompt for e in viggo_examples("test", args.prompt, args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            handle = ModelHandle(trainer="hf", fingerprint="bench", location=str(args.model))
            config = HFTrainer.Config.model_validate({"model": {"init": "scratch"}})
        else:
            handle, config = train_quick(args.prompt, args.train_steps, Path(tmp))
        results = {}
        for share in ("off", "auto"):
            cfg = config.model_copy(update={"train": config.train.model_copy(update={"shared_prefix": share})})
            settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
            loaded = HFGenerator().load(handle, cfg, settings)
            results[share] = batched(loaded, prompts)
        base_texts, base_s = per_example(loaded, prompts, args.max_new_tokens)
    n = len(prompts)
    print(f"{n} ViGGO test prompts ({args.prompt}), greedy, max_new_tokens={args.max_new_tokens}")
    print(f"one generate() per example:      {n / base_s:7.1f} examples/s ({base_s:.1f} s)")
    for share, (texts, secs) in results.items():
        same = sum(a == b for a, b in zip(texts, base_texts, strict=True))
        print(
            f"hf generator, shared_prefix {share:4s}: {n / secs:7.1f} examples/s ({secs:.1f} s)  "
            f"ratio {base_s / secs:.2f}x  identical outputs {same}/{n}"
        )


if __name__ == "__main__":
    main()
