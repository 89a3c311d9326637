"""The DPO training loop: the SFT loop's schedule, optimizer, checkpoints and resume, with the preference loss.

One process (no data parallelism). Curves: ``loss``, ``lr``, ``reward_accuracy``, ``reward_margin``,
``chosen_reward``, ``rejected_reward``; on the valid pairs ``eval_loss``, ``eval_reward_accuracy``
and ``eval_reward_margin``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fteval.plugin import TrainContext
from fteval_hf.batching import plan_batches
from fteval_hf.checkpoint import LoopState, load_trainable, resume, save_checkpoint, save_trainable
from fteval_hf.config import TrainSettings
from fteval_hf.data import EncodedSplit
from fteval_hf.dpo import DPOResult, pair_loss
from fteval_hf.formatting import Encoded
from fteval_hf.loop import _is_eval_step, _optimizer, make_schedule, optimizer_step

__all__ = ["PairSplit", "evaluate_pairs", "run_dpo_loop"]

Reference = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class PairSplit:
    """Encoded preference pairs: ``chosen[i]`` is preferred over ``rejected[i]`` (same prompt)."""

    chosen: list[Encoded]
    rejected: list[Encoded]
    truncated: int
    dropped: int

    def planner_view(self) -> EncodedSplit:
        """The pairs as the batch planner sees them: each pair by its longer row."""
        rows = [c if len(c.ids) >= len(r.ids) else r for c, r in zip(self.chosen, self.rejected, strict=True)]
        return EncodedSplit(rows=rows, truncated=self.truncated, dropped=self.dropped)


def evaluate_pairs(
    model: Any, reference: Reference, split: PairSplit, settings: TrainSettings, pad_id: int
) -> dict[str, float]:
    """Mean DPO loss, reward accuracy and margin over a split's pairs, no gradients."""
    plan = plan_batches(split.planner_view().token_ids, settings.batch_size, shuffle=False)
    loss = acc = margin = 0.0
    n = 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for idx in plan.batches:
            res = pair_loss(
                model,
                reference,
                [split.chosen[i] for i in idx],
                [split.rejected[i] for i in idx],
                pad_id,
                settings.beta,
                settings.shared_prefix,
            )
            loss += float(res.loss) * res.pairs
            acc += res.accuracy * res.pairs
            margin += res.margin * res.pairs
            n += res.pairs
    model.train(was_training)
    n = max(n, 1)
    return {"eval_loss": loss / n, "eval_reward_accuracy": acc / n, "eval_reward_margin": margin / n}


def _mean(results: list[DPOResult], field: str) -> float:
    total = sum(r.pairs for r in results)
    return float(sum(getattr(r, field) * r.pairs for r in results) / max(total, 1))


def run_dpo_loop(
    model: Any,
    reference: Reference,
    train: PairSplit,
    valid: PairSplit | None,
    settings: TrainSettings,
    *,
    ctx: TrainContext,
    pad_id: int,
    seed: int,
    workdir: Path,
) -> LoopState:
    """Train ``model`` (a peft model) by DPO in place, resuming from the latest checkpoint under ``workdir``.

    Args:
        model: the policy: the starting model with a fresh LoRA adapter, already on its device.
        reference: makes ``model`` the reference model inside a ``with`` block (``model.disable_adapter``).
        train: encoded train pairs.
        valid: encoded valid pairs for eval curves (and ``keep: best``), or None.
        settings: the target's train section (batch_size counts pairs).
        ctx: the engine's context (curves, progress bar).
        pad_id: padding token id.
        seed: training seed (data order, dropout).
        workdir: persistent folder for checkpoints and the best weights.

    Returns:
        The final loop state (``extra`` holds the last step's reward statistics).
    """
    from transformers import get_scheduler

    planner = train.planner_view()
    schedule = make_schedule(planner, settings, seed)
    total, per_step = schedule.total_steps, settings.grad_accum
    optimizer = _optimizer(model, settings)
    scheduler = get_scheduler(
        settings.scheduler, optimizer, num_warmup_steps=min(settings.warmup_steps, total), num_training_steps=total
    )
    ckpt_root, best_path = workdir / "checkpoints", workdir / "best.safetensors"
    torch.manual_seed(seed)
    state = resume(ckpt_root, model, optimizer, scheduler)
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    description = f"dpo (resumed at step {state.step})" if state.step else "dpo"
    with ctx.progress(total, description) as bar:
        if state.step:
            bar.advance(state.step)
        started, base_wall = time.perf_counter(), state.wall_s
        while state.step < total and not state.stopped_early:
            step_start = time.perf_counter()
            micro = schedule.micro_batches[state.step * per_step : (state.step + 1) * per_step]
            pairs = sum(len(idx) for idx in micro)
            results, tokens = [], 0
            for idx in micro:
                chosen, rejected = [train.chosen[i] for i in idx], [train.rejected[i] for i in idx]
                res = pair_loss(model, reference, chosen, rejected, pad_id, settings.beta, settings.shared_prefix)
                (res.loss * (res.pairs / pairs)).backward()
                results.append(res)
                tokens += sum(len(r.ids) for r in (*chosen, *rejected))
            optimizer_step(trainable, optimizer, scheduler, settings.max_grad_norm)
            state.step += 1
            state.trained_tokens += tokens
            state.computed_tokens += 2 * tokens  # a policy and a reference forward per row
            state.last_loss = sum(float(r.loss.detach()) * r.pairs for r in results) / max(pairs, 1)
            stats = {
                "reward_accuracy": _mean(results, "accuracy"),
                "reward_margin": _mean(results, "margin"),
                "chosen_reward": _mean(results, "chosen_reward"),
                "rejected_reward": _mean(results, "rejected_reward"),
            }
            state.extra.update(stats)
            ctx.log(state.step, loss=state.last_loss, lr=scheduler.get_last_lr()[0], **stats)
            if (
                valid is not None
                and valid.chosen
                and _is_eval_step(state.step, total, settings, schedule.steps_per_epoch)
            ):
                _eval_and_track(model, reference, valid, settings, pad_id, state, best_path, ctx)
            state.wall_s = base_wall + time.perf_counter() - started
            bar.advance(
                1,
                loss=round(state.last_loss, 4),
                acc=round(stats["reward_accuracy"], 2),
                tok_s=round(tokens / (time.perf_counter() - step_start)),
            )
            if state.step % settings.save_every == 0 and state.step < total and not state.stopped_early:
                save_checkpoint(ckpt_root, model, optimizer, scheduler, state)
    if settings.keep == "best" and state.best_step is not None and best_path.exists():
        load_trainable(model, best_path)
    return state


def _eval_and_track(
    model: Any,
    reference: Reference,
    valid: PairSplit,
    settings: TrainSettings,
    pad_id: int,
    state: LoopState,
    best_path: Path,
    ctx: TrainContext,
) -> None:
    """Eval curves on the valid pairs, the best weights (lowest eval DPO loss) and the early-stopping counter."""
    values = evaluate_pairs(model, reference, valid, settings, pad_id)
    ctx.log(state.step, **values)
    loss = values["eval_loss"]
    if state.best_eval_loss is None or loss < state.best_eval_loss:
        state.best_eval_loss, state.best_step, state.evals_since_best = loss, state.step, 0
        save_trainable(model, best_path)
    else:
        state.evals_since_best += 1
        patience = settings.early_stopping_patience
        state.stopped_early = patience is not None and state.evals_since_best >= patience
