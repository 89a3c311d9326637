"""Fitting an hf target end to end: model + tokenizer, encoding, the loop, saving, stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fteval.plugin import Example, ModelHandle, TrainContext
from fteval_hf.config import GGUFModel, HFConfig, HubModel, ScratchModel
from fteval_hf.manifest import is_saved, save_model, saved_handle

__all__ = ["base_handle", "fit"]


def _scratch(spec: ScratchModel, train: list[Example], folder: Path, max_len: int, seed: int) -> tuple[Any, Any]:
    """Tokenizer (trained once, then reused on resume) and a seeded random model of the preset."""
    from transformers import AutoTokenizer

    from fteval_hf.formatting import prompt_text
    from fteval_hf.scratch import build_scratch_model, shared_start, train_tokenizer

    if (folder / "tokenizer.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(folder)
    else:
        if not train:
            raise ValueError("a scratch model needs training rows to learn its tokenizer from")
        prompts = [prompt_text(ex.prompt) for ex in train]
        whole = [shared_start(prompts)] if spec.one_token_prefix else []
        tokenizer = train_tokenizer(
            (p + ex.target for p, ex in zip(prompts, train, strict=True)), spec.vocab_size, whole
        )
        tokenizer.save_pretrained(folder)
    return build_scratch_model(spec.preset, tokenizer, max(2048, max_len), seed), tokenizer


def _model_and_tokenizer(
    config: HFConfig, train: list[Example], workdir: Path, device: str, seed: int, identity: str | None
) -> tuple[Any, Any, dict[str, Any]]:
    """The starting model on ``device``, its tokenizer, and how to find the base model again."""
    from fteval_hf.loading import hub_token, load_pretrained, load_tokenizer

    spec = config.model
    if isinstance(spec, GGUFModel):
        from fteval_hf.gguf import local_model

        local = local_model(spec)
        base = {"gguf": spec.gguf, "identity": identity}  # the cache folder moves; the file's hash does not
        return load_pretrained(local, device), load_tokenizer(local.id), base
    if isinstance(spec, HubModel):
        return (
            load_pretrained(spec, device),
            load_tokenizer(spec.id, spec.revision, hub_token(spec)),
            {
                "id": spec.id,
                "revision": spec.revision,
                "identity": identity,  # in the saved model's fingerprint: a new base, a new model
            },
        )
    init = workdir / "init"
    model, tokenizer = _scratch(spec, train, init, config.train.max_seq_len, seed)
    if config.train.method in ("lora", "dpo") and not (init / "config.json").exists():
        model.save_pretrained(init)  # the adapter's base must be reloadable
    return model.to(device), tokenizer, {"dir": str(init)}


def _record(ctx: TrainContext, stats: dict[str, Any]) -> None:
    ctx.record(**{k: v for k, v in stats.items() if v is not None})


def fit(config: HFConfig, ctx: TrainContext, identity: str | None = None) -> ModelHandle:
    """Train the target (resuming from ``ctx.workdir``) and save it so it reloads like a hub model.

    Args:
        config: the validated target config.
        ctx: the engine's training context.
        identity: the base model's identity (``HFTrainer.model_identity``), recorded in the manifest.

    Returns:
        A handle: ``location`` = the saved model folder, ``fingerprint`` = hash of its files.
    """
    from fteval_hf.data import encode_split
    from fteval_hf.devices import pick_device, quiet_transformers, use_all_cores
    from fteval_hf.distributed import barrier, current_ranks
    from fteval_hf.loop import run_loop
    from fteval_hf.lora import add_adapter

    workdir = Path(ctx.workdir)
    out = workdir / "model"
    if is_saved(out):
        handle = saved_handle(out)
        _record(ctx, handle.meta.get("stats", {}))
        return handle
    if config.train.method == "dpo":
        from fteval_hf.dpo_fit import fit_dpo

        return fit_dpo(config, ctx, identity)
    workdir.mkdir(parents=True, exist_ok=True)
    train_cfg = config.train
    quiet_transformers()
    threads = use_all_cores()
    ranks = current_ranks()
    device = ranks.device or pick_device(config.model.device)
    seed = train_cfg.seed if train_cfg.seed is not None else ctx.seed
    if not ranks.main:
        barrier(ranks)  # rank 0 trains and saves a scratch tokenizer first; the others load it
    model, tokenizer, base = _model_and_tokenizer(config, list(ctx.train), workdir, device, seed, identity)
    if ranks.main:
        barrier(ranks)
    fmt = train_cfg.prompt_format
    train = encode_split(tokenizer, ctx.train, train_cfg.max_seq_len, fmt)
    valid = encode_split(tokenizer, ctx.valid, train_cfg.max_seq_len, fmt) if ctx.valid else None
    if train_cfg.method == "lora":
        import torch

        torch.manual_seed(seed)  # the adapter's random init, so a resumed run (other process) matches
        quantised = isinstance(config.model, HubModel) and (config.model.load_in_8bit or config.model.load_in_4bit)
        model = add_adapter(model, train_cfg.lora, quantized=quantised)
    state = run_loop(
        model,
        train,
        valid,
        train_cfg,
        ctx=ctx,
        pad_id=tokenizer.pad_token_id,
        device=device,
        seed=seed,
        workdir=workdir,
        ranks=ranks,
    )
    plain = state.extra.get("plain_tokens", 0)
    prompt_total = sum(r.prompt_len for r in train.rows)
    stats = {
        **job_stats(state, train, model, config, device, threads),
        "padding_fraction": round(1 - state.trained_tokens / plain, 4) if plain else None,
        "prefix_saved_fraction": round(state.extra.get("prompt_tokens_saved", 0) / plain, 4) if plain else None,
        "processes": ranks.world,
        "train_rows": len(train.rows),
        "prompt_tokens": prompt_total,
    }
    if ranks.main:
        save_model(
            model,
            tokenizer,
            out,
            {"method": train_cfg.method, "base": base, "prompt_format": fmt, "stats": stats},
        )
        _record(ctx, stats)
    barrier(ranks)
    return saved_handle(out)


def _load_options(spec: HubModel | GGUFModel) -> str:
    """How the weights are loaded, when not as saved: it changes outputs, so it is in the fingerprint."""
    options = [f"dtype={spec.dtype}"] if spec.dtype != "auto" else []
    if isinstance(spec, HubModel):
        options += ["8bit"] * spec.load_in_8bit + ["4bit"] * spec.load_in_4bit
    return "".join(f";{o}" for o in options)


def base_handle(config: HFConfig, ctx: TrainContext, identity: str | None = None) -> ModelHandle:
    """The untrained model as a handle (evaluator_only); a scratch model is saved at its init.

    A hub or local model's fingerprint is its ``identity`` (content hash of a local directory, the
    resolved hub commit, or a GGUF file's sha256) plus non-default load options.
    """
    spec = config.model
    if isinstance(spec, GGUFModel):
        if identity is None:
            from fteval_hf.gguf import gguf_identity

            identity = gguf_identity(spec)
        return ModelHandle(
            trainer="hf",
            fingerprint=identity + _load_options(spec),
            location=spec.gguf,
            meta={
                "method": "base",
                "base": {"gguf": spec.gguf, "identity": identity},
                "prompt_format": config.train.prompt_format,
            },
        )
    if isinstance(spec, HubModel):
        identity = identity or f"hub:{spec.id}@{spec.revision or 'main'}"
        base = {"id": spec.id, "revision": spec.revision, "identity": identity}
        return ModelHandle(
            trainer="hf",
            fingerprint=identity + _load_options(spec),
            location=spec.id,
            meta={"method": "base", "base": base, "prompt_format": config.train.prompt_format},
        )
    out = Path(ctx.workdir) / "base-model"
    if is_saved(out):
        return saved_handle(out)
    seed = config.train.seed if config.train.seed is not None else ctx.seed
    model, tokenizer = _scratch(spec, list(ctx.train), Path(ctx.workdir) / "init", config.train.max_seq_len, seed)
    manifest = {
        "method": "full",
        "base": {"dir": str(out)},
        "prompt_format": config.train.prompt_format,
    }
    fingerprint = save_model(model, tokenizer, out, manifest)
    return ModelHandle(
        trainer="hf",
        fingerprint=fingerprint,
        location=str(out),
        meta={**manifest, "fingerprint": fingerprint},
    )


def job_stats(state: Any, train: Any, model: Any, config: HFConfig, device: str, threads: int) -> dict[str, Any]:
    """The statistics every hf training job records (SFT and DPO): time, tokens, cost, losses, the machine."""
    from fteval_hf.devices import peak_memory_mb

    price = config.cost.gpu_hour_usd if device.startswith("cuda") else config.cost.cpu_hour_usd
    return {
        "wall_s": round(state.wall_s, 3),
        "trained_tokens": state.trained_tokens,
        "computed_tokens": state.computed_tokens,
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "cost_usd": round(state.wall_s / 3600 * price, 6),
        "truncated_rows": train.truncated,
        "dropped_rows": train.dropped,
        "steps": state.step,
        "final_loss": state.last_loss,
        "best_eval_loss": state.best_eval_loss,
        "best_step": state.best_step,
        "stopped_early": int(state.stopped_early),
        "device": device,
        "threads": threads,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
