"""Fitting an hf target by DPO (``train.method: dpo``): starting model, pairs, LoRA adapter, loop, saving, stats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fteval.plugin import Example, ModelHandle, TrainContext
from fteval_hf.config import HFConfig, HubModel, LoraSettings
from fteval_hf.dpo_loop import PairSplit
from fteval_hf.manifest import save_model, saved_handle

__all__ = ["encode_pairs", "fit_dpo"]


def encode_pairs(tokenizer: Any, examples: Sequence[Example], max_len: int, fmt: Any = "plain") -> PairSplit:
    """Encode each example's prompt with its target (chosen) and its ``rejected`` answer.

    Raises:
        ValueError: an example has no rejected answer (the spec gave no preference data).
    """
    from fteval_hf.formatting import encode_example

    missing = [ex.index + 1 for ex in examples if ex.rejected is None]
    if missing:
        raise ValueError(
            f"method: dpo needs preference pairs, but data rows {missing[:5]} have no rejected answer:"
            " set prompt.rejected, or rejected_from on the target"
        )
    chosen, rejected, truncated, dropped = [], [], 0, 0
    for ex in examples:
        c = encode_example(tokenizer, ex.prompt, ex.target, max_len, fmt)
        r = encode_example(tokenizer, ex.prompt, ex.rejected or "", max_len, fmt)
        truncated += c.truncated or r.truncated
        if c.prompt_len >= len(c.ids) or r.prompt_len >= len(r.ids):
            dropped += 1  # an answer cut away entirely: nothing to compare
            continue
        chosen.append(c)
        rejected.append(r)
    return PairSplit(chosen, rejected, truncated, dropped)


def _starting_model(
    config: HFConfig, ctx: TrainContext, device: str, seed: int, identity: str | None
) -> tuple[Any, Any, dict[str, Any]]:
    """The model DPO starts from (and that stays the reference): the ``after`` target's model merged, or the target's base."""
    if ctx.init is None:
        from fteval_hf.fit import _model_and_tokenizer

        return _model_and_tokenizer(config, list(ctx.train), Path(ctx.workdir), device, seed, identity)
    from fteval_hf.generator import _load

    # An adapter of the earlier job is merged: the new adapter trains on top, the merged model is the reference.
    merged = config.model_copy(update={"train": config.train.model_copy(update={"lora": LoraSettings(merge=True)})})
    model, tokenizer, _ = _load(ctx.init, merged, device)
    return model.to(device), tokenizer, {"after": ctx.init.fingerprint, "identity": identity}


def fit_dpo(config: HFConfig, ctx: TrainContext, identity: str | None = None) -> ModelHandle:
    """Train a LoRA adapter by DPO on the context's preference pairs and save the model.

    Without ``after`` the adapter is saved on its base (method ``lora``); on top of another
    target's model the adapter is merged and the whole model saved (method ``full``), so it
    reloads without the earlier job's files.

    Args:
        config: the validated target config (``train.method: dpo``).
        ctx: the engine's training context; ``train``/``valid`` examples carry ``rejected``.
        identity: the base model's identity, recorded in the manifest.

    Returns:
        A handle to the saved model.
    """
    import torch

    from fteval_hf.devices import pick_device, quiet_transformers, use_all_cores
    from fteval_hf.distributed import current_ranks
    from fteval_hf.dpo_loop import run_dpo_loop
    from fteval_hf.fit import _record, job_stats
    from fteval_hf.lora import add_adapter

    workdir, train_cfg = Path(ctx.workdir), config.train
    out = workdir / "model"
    workdir.mkdir(parents=True, exist_ok=True)
    if current_ranks().world > 1:
        raise ValueError("method: dpo runs in one process; launch it without accelerate's data parallelism")
    quiet_transformers()
    threads = use_all_cores()
    device = pick_device(config.model.device)
    seed = train_cfg.seed if train_cfg.seed is not None else ctx.seed
    model, tokenizer, base = _starting_model(config, ctx, device, seed, identity)
    fmt = train_cfg.prompt_format
    train = encode_pairs(tokenizer, ctx.train, train_cfg.max_seq_len, fmt)
    valid = encode_pairs(tokenizer, ctx.valid, train_cfg.max_seq_len, fmt) if ctx.valid else None
    torch.manual_seed(seed)  # the adapter's random init, so a resumed run (other process) matches
    quantised = isinstance(config.model, HubModel) and (config.model.load_in_8bit or config.model.load_in_4bit)
    model = add_adapter(model, train_cfg.lora, quantized=quantised)
    state = run_dpo_loop(
        model,
        model.disable_adapter,
        train,
        valid,
        train_cfg,
        ctx=ctx,
        pad_id=tokenizer.pad_token_id,
        seed=seed,
        workdir=workdir,
    )
    stats = {
        **job_stats(state, train, model, config, device, threads),
        "final_reward_accuracy": state.extra.get("reward_accuracy"),
        "final_reward_margin": state.extra.get("reward_margin"),
        "train_pairs": len(train.chosen),
        "beta": train_cfg.beta,
    }
    if ctx.init is not None:
        model, method = model.merge_and_unload(), "full"
    else:
        method = "lora"
    save_model(
        model,
        tokenizer,
        out,
        {"method": method, "trained_by": "dpo", "base": base, "prompt_format": fmt, "stats": stats},
    )
    _record(ctx, stats)
    return saved_handle(out)
