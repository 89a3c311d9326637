"""The DPO objective: per-row completion log-probabilities, the sigmoid preference loss and its reward statistics.

Direct preference optimisation (Rafailov et al. 2023), as TRL's ``DPOTrainer`` computes it with
``loss_type="sigmoid"`` and no label smoothing: with ``pi`` and ``ref`` the summed log-probabilities
of an answer's tokens under the trained policy and the frozen reference model,
``loss = -logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))``, the rewards are
``beta * (pi - ref)`` and a pair counts as right when the chosen reward exceeds the rejected one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from fteval_hf.formatting import Encoded
from fteval_hf.loss import _decide, _keep_mask, _logits_at, collate
from fteval_hf.prefix_cache import MIN_SHARED_PREFIX, SharedPrefix, base_model, expand_cache, last_logit_kwargs

__all__ = ["DPOResult", "dpo_loss", "pair_batch", "pair_loss", "sequence_logps"]


@dataclass(frozen=True)
class DPOResult:
    """A batch of pairs' mean loss (differentiable) and reward statistics (floats, batch means)."""

    loss: torch.Tensor
    chosen_reward: float
    rejected_reward: float
    margin: float
    accuracy: float
    pairs: int


def pair_batch(chosen: Sequence[Encoded], rejected: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """One right-padded batch: the chosen rows, then the rejected rows, labels on the completions only."""
    rows = [*chosen, *rejected]
    return collate(
        [r.ids[: r.prompt_len] for r in rows],
        [r.ids[r.prompt_len :] for r in rows],
        pad_token_id=pad_id,
        loss_on="completion",
    )


def sequence_logps(model: Any, batch: Mapping[str, torch.Tensor], shared_prefix: SharedPrefix = "off") -> torch.Tensor:
    """[B] summed log-probability of each row's label tokens (its completion) under ``model``.

    With ``shared_prefix`` (``auto``/``on``, as in :func:`fteval_hf.loss.causal_lm_loss`) the rows'
    common prompt prefix runs once and its cache is broadcast over the rows: the same values up to
    float rounding, gradients flowing through the prefix.
    """
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    keep = _keep_mask(labels)
    # no label position may fall inside the prefix: its logits are not computed per row
    prefix = min(_decide(model, shared_prefix, batch, MIN_SHARED_PREFIX), int(batch["prompt_lengths"].min()) - 1)
    if prefix <= 0:
        logits, _ = _logits_at(model, keep, input_ids=ids, attention_mask=mask, use_cache=False)
        targets, kept = labels[:, 1:][keep[:, :-1]], keep
    else:
        from transformers import DynamicCache

        rows, width = ids.shape
        cache = DynamicCache(config=base_model(model).config)
        model(input_ids=ids[:1, :prefix], cache=cache, use_cache=True, **last_logit_kwargs(model))
        expand_cache(cache, rows)
        kept = keep[:, prefix:]
        logits, _ = _logits_at(
            model,
            kept,
            input_ids=ids[:, prefix:],
            attention_mask=torch.cat([torch.ones_like(mask[:, :prefix]), mask[:, prefix:]], dim=1),
            position_ids=torch.arange(prefix, width, device=ids.device).unsqueeze(0).expand(rows, -1),
            cache=cache,
            use_cache=True,
        )
        targets = labels[:, prefix + 1 :][kept[:, :-1]]
    token_logps = -F.cross_entropy(logits.float(), targets, reduction="none")
    row_of = kept.nonzero()[:, 0]  # boolean indexing is row-major: the row of each kept position
    return torch.zeros(labels.shape[0], dtype=token_logps.dtype, device=labels.device).index_add(0, row_of, token_logps)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> DPOResult:
    """Mean sigmoid DPO loss over pairs, with the mean chosen/rejected rewards, margin and accuracy.

    Args:
        policy_chosen: [P] summed log-probs of the preferred answers under the policy.
        policy_rejected: [P] the same for the rejected answers.
        ref_chosen: [P] the preferred answers under the reference model (no gradient).
        ref_rejected: [P] the rejected answers under the reference model.
        beta: the DPO temperature.

    Returns:
        The loss and statistics of the batch.
    """
    logits = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(beta * logits).mean()
    chosen = beta * (policy_chosen - ref_chosen).detach()
    rejected = beta * (policy_rejected - ref_rejected).detach()
    return DPOResult(
        loss=loss,
        chosen_reward=float(chosen.mean()),
        rejected_reward=float(rejected.mean()),
        margin=float((chosen - rejected).mean()),
        accuracy=float((chosen > rejected).float().mean()),
        pairs=int(logits.shape[0]),
    )


def pair_loss(
    model: Any,
    reference: Any,
    chosen: Sequence[Encoded],
    rejected: Sequence[Encoded],
    pad_id: int,
    beta: float,
    shared_prefix: SharedPrefix = "off",
) -> DPOResult:
    """DPO loss of a batch of pairs: one policy forward over chosen + rejected rows, one reference forward.

    ``reference`` is a context manager factory that makes ``model`` act as the reference model
    (a peft model's ``disable_adapter``); ``shared_prefix`` as in :func:`sequence_logps`.
    """
    batch = {k: v.to(next(model.parameters()).device) for k, v in pair_batch(chosen, rejected, pad_id).items()}
    n, was_training = len(chosen), model.training
    model.eval()  # the reference is deterministic: no dropout
    with torch.no_grad(), reference():
        ref = sequence_logps(model, batch, shared_prefix)
    model.train(was_training)
    policy = sequence_logps(model, batch, shared_prefix)
    return dpo_loss(policy[:n], policy[n:], ref[:n], ref[n:], beta)
