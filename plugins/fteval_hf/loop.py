"""The training loop: AdamW, warm-up + schedule, grad accumulation, eval, early stopping, resume."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fteval.plugin import TrainContext
from fteval_hf.batching import plan_batches
from fteval_hf.checkpoint import (
    LoopState,
    load_trainable,
    resume,
    save_checkpoint,
    save_trainable,
)
from fteval_hf.config import TrainSettings
from fteval_hf.data import EncodedSplit, batch_of
from fteval_hf.devices import move
from fteval_hf.distributed import Ranks, all_sum, broadcast_flag
from fteval_hf.formatting import Encoded
from fteval_hf.loss import causal_lm_loss

__all__ = ["Schedule", "evaluate", "make_schedule", "run_loop"]


@dataclass(frozen=True)
class Schedule:
    """The whole run's micro-batches (row indices) in order, and the optimizer steps they make."""

    micro_batches: list[list[int]]
    steps_per_epoch: float
    total_steps: int


def make_schedule(split: EncodedSplit, settings: TrainSettings, seed: int, world: int = 1) -> Schedule:
    """Plan every epoch's length-grouped, shuffled batches; deterministic for a seed (for resume).

    Args:
        split: the encoded train split.
        settings: the target's train section.
        seed: the training seed.
        world: data-parallel processes; a step takes ``grad_accum * world`` micro-batches.

    Returns:
        The schedule of micro-batches and the number of optimizer steps.
    """
    group = settings.shared_prefix != "off"
    per_step = settings.grad_accum * world

    def epoch(e: int) -> list[list[int]]:
        return plan_batches(
            split.token_ids,
            settings.batch_size,
            seed=seed * 1009 + e,
            prompt_lengths=split.prompt_lengths,
            group_by_prefix=group,
            shuffle=True,
        ).batches

    first = epoch(0)
    if not first:
        raise ValueError("no training rows left after encoding (all were empty or truncated away)")
    per_epoch = len(first)
    if settings.max_steps is not None:
        wanted = settings.max_steps * per_step
    else:
        wanted = max(1, round(settings.num_epochs * per_epoch))
    stream, e = list(first), 1
    while len(stream) < wanted:
        stream += epoch(e)
        e += 1
    stream = stream[:wanted]
    return Schedule(stream, per_epoch / per_step, math.ceil(len(stream) / per_step))


def _label_count(row: Encoded, loss_on: str) -> int:
    """Tokens of a row that carry a loss (the first token never does: nothing predicts it)."""
    start = row.prompt_len if loss_on == "completion" else 0
    return len(row.ids) - max(start, 1)


def _optimizer(model: Any, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (not biases, norms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": settings.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=settings.lr)


def optimizer_step(trainable: list[Any], optimizer: Any, scheduler: Any, max_grad_norm: float | None) -> None:
    """One optimiser update: clip the gradients (when set), step the optimiser and the schedule, clear the gradients."""
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def evaluate(model: Any, split: EncodedSplit, settings: TrainSettings, pad_id: int, device: str) -> float:
    """Mean token loss over a split (labels and prefix sharing as in training), no gradients."""
    plan = plan_batches(split.token_ids, settings.batch_size, shuffle=False)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for idx in plan.batches:
            batch = move(batch_of([split.rows[i] for i in idx], pad_id, settings.loss_on), device)
            res = causal_lm_loss(model, batch, settings.shared_prefix)
            total += float(res.loss) * res.label_tokens
            count += res.label_tokens
    model.train(was_training)
    return total / max(count, 1)


def _is_eval_step(step: int, total: int, settings: TrainSettings, steps_per_epoch: float) -> bool:
    if settings.eval_every is None:
        return False
    if step == total:
        return True
    if settings.eval_every == "epoch":
        return int(step / steps_per_epoch) != int((step - 1) / steps_per_epoch)
    return step % settings.eval_every == 0


def run_loop(
    model: Any,
    train: EncodedSplit,
    valid: EncodedSplit | None,
    settings: TrainSettings,
    *,
    ctx: TrainContext,
    pad_id: int,
    device: str,
    seed: int,
    workdir: Path,
    ranks: Ranks | None = None,
) -> LoopState:
    """Train ``model`` in place, resuming from the latest checkpoint under ``workdir`` if any.

    Args:
        model: the model (or peft model) to train, already on ``device``.
        train: encoded train split.
        valid: encoded held-out split for eval loss, or None.
        settings: the target's train section.
        ctx: the engine's context (curves, progress bar); used by rank 0 only.
        pad_id: padding token id.
        device: torch device string.
        seed: training seed (data order, dropout).
        workdir: persistent folder for checkpoints and the best weights.
        ranks: data-parallel ranks under ``accelerate launch``; None = one process.

    Returns:
        The final loop state; ``model`` holds the last (or, with ``keep: best``, the best) weights.
    """
    from transformers import get_scheduler

    ranks = ranks or Ranks()
    schedule = make_schedule(train, settings, seed, ranks.world)
    total, per_step = schedule.total_steps, settings.grad_accum * ranks.world
    optimizer = _optimizer(model, settings)
    scheduler = get_scheduler(
        settings.scheduler,
        optimizer,
        num_warmup_steps=min(settings.warmup_steps, total),
        num_training_steps=total,
    )
    ckpt_root, best_path = workdir / "checkpoints", workdir / "best.safetensors"
    torch.manual_seed(seed + ranks.rank)
    state = resume(ckpt_root, model, optimizer, scheduler)
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    description = f"train (resumed at step {state.step})" if state.step else "train"
    with ctx.progress(total, description) if ranks.main else contextlib.nullcontext(_NoBar()) as bar:
        if state.step:
            bar.advance(state.step)
        started = time.perf_counter()
        base_wall = state.wall_s
        while state.step < total and not state.stopped_early:
            step_start = time.perf_counter()
            micro = schedule.micro_batches[state.step * per_step : (state.step + 1) * per_step]
            rows = [[train.rows[i] for i in idx] for idx in micro]
            labels = sum(_label_count(r, settings.loss_on) for batch_rows in rows for r in batch_rows)
            tokens = sum(len(r.ids) for batch_rows in rows for r in batch_rows)
            loss_sum = torch.zeros((), device=device)
            for batch_rows in rows[ranks.rank :: ranks.world]:
                batch = move(batch_of(batch_rows, pad_id, settings.loss_on), device)
                res = causal_lm_loss(model, batch, settings.shared_prefix)
                (res.loss * (res.label_tokens / max(labels, 1))).backward()
                loss_sum += res.loss.detach() * res.label_tokens
                state.computed_tokens += res.computed_tokens
                state.extra["plain_tokens"] = state.extra.get("plain_tokens", 0) + res.plain_tokens
                state.extra["prompt_tokens_saved"] = state.extra.get("prompt_tokens_saved", 0) + res.prompt_tokens_saved
            all_sum([p.grad for p in trainable if p.grad is not None] + [loss_sum.view(1)], ranks)
            optimizer_step(trainable, optimizer, scheduler, settings.max_grad_norm)
            state.step += 1
            state.trained_tokens += tokens
            state.last_loss = float(loss_sum) / max(labels, 1)
            if ranks.main:
                ctx.log(state.step, loss=state.last_loss, lr=scheduler.get_last_lr()[0])
            if (
                valid is not None
                and valid.rows
                and _is_eval_step(state.step, total, settings, schedule.steps_per_epoch)
            ):
                if ranks.main:
                    _eval_and_track(model, valid, settings, pad_id, device, state, best_path, ctx)
                state.stopped_early = broadcast_flag(state.stopped_early, ranks)
            state.wall_s = base_wall + time.perf_counter() - started
            bar.advance(
                1,
                loss=round(state.last_loss, 4),
                tok_s=round(tokens / (time.perf_counter() - step_start)),
            )
            if ranks.main and state.step % settings.save_every == 0 and state.step < total and not state.stopped_early:
                save_checkpoint(ckpt_root, model, optimizer, scheduler, state)
    if settings.keep == "best" and state.best_step is not None and best_path.exists():
        load_trainable(model, best_path)
    return state


class _NoBar:
    """The progress bar of ranks other than 0."""

    def advance(self, n: int = 1, **fields: Any) -> None:
        pass


def _eval_and_track(
    model: Any,
    valid: EncodedSplit,
    settings: TrainSettings,
    pad_id: int,
    device: str,
    state: LoopState,
    best_path: Path,
    ctx: TrainContext,
) -> None:
    """Eval loss, curve point, best weights and the early-stopping counter."""
    loss = evaluate(model, valid, settings, pad_id, device)
    ctx.log(state.step, eval_loss=loss)
    if state.best_eval_loss is None or loss < state.best_eval_loss:
        state.best_eval_loss, state.best_step, state.evals_since_best = loss, state.step, 0
        save_trainable(model, best_path)
    else:
        state.evals_since_best += 1
        patience = settings.early_stopping_patience
        state.stopped_early = patience is not None and state.evals_since_best >= patience
