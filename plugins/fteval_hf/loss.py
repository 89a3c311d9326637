"""Causal-LM loss over a padded batch, optionally computing the rows' shared prompt prefix once.

The shared-prefix path runs the longest common prompt prefix of the batch once (batch size 1),
broadcasts its key/value cache over the rows (a view, no copy), then runs only the row-specific suffixes against it.
Loss and gradients equal the plain path's up to float rounding; gradients flow through the prefix.
With dropout active (e.g. LoRA dropout while training) the prefix gets one dropout mask shared by
all rows instead of one per row: the same expected loss, not the same random draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from fteval_hf.prefix_cache import (
    MIN_SHARED_PREFIX,
    SharedPrefix,
    accepts,
    base_model,
    expand_cache,
    last_logit_kwargs,
    supports_shared_prefix,
)

__all__ = ["IGNORE_INDEX", "LossResult", "causal_lm_loss", "collate", "shared_prefix_length"]

IGNORE_INDEX = -100


@dataclass(frozen=True)
class LossResult:
    """A batch's loss with the token counts behind it.

    Attributes:
        loss: Mean cross-entropy over label tokens (HF causal-LM semantics, shifted by one).
        label_tokens: Tokens the loss averages over.
        plain_tokens: Tokens a plain batch processes (rows x padded length).
        computed_tokens: Tokens actually run through the model.
        prompt_tokens_saved: Prompt tokens not recomputed thanks to the shared prefix.
        shared_prefix: Length of the prefix computed once (0 on the plain path).
    """

    loss: torch.Tensor
    label_tokens: int
    plain_tokens: int
    computed_tokens: int
    prompt_tokens_saved: int
    shared_prefix: int


def collate(
    prompt_ids: Sequence[Sequence[int]],
    completion_ids: Sequence[Sequence[int]],
    *,
    pad_token_id: int,
    loss_on: Literal["completion", "all"] = "completion",
    max_length: int | None = None,
) -> dict[str, torch.Tensor]:
    """Build a right-padded training batch from token id lists.

    Args:
        prompt_ids: Prompt tokens per row.
        completion_ids: Completion tokens per row (include EOS if the model should learn it).
        pad_token_id: Id written into padding positions.
        loss_on: ``completion`` masks prompt tokens with -100; ``all`` trains on every token.
        max_length: Truncate each row (from the right) to this many tokens.

    Returns:
        ``input_ids``, ``attention_mask``, ``labels`` ([B, T]) and ``prompt_lengths`` ([B]).
    """
    rows = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids, strict=True)]
    plens = [len(p) for p in prompt_ids]
    if max_length is not None:
        rows = [r[:max_length] for r in rows]
        plens = [min(p, max_length) for p in plens]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (row, plen) in enumerate(zip(rows, plens, strict=False)):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
        start = 0 if loss_on == "all" else plen
        labels[i, start : len(row)] = ids[i, start : len(row)]
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": labels,
        "prompt_lengths": torch.tensor(plens, dtype=torch.long),
    }


def shared_prefix_length(input_ids: torch.Tensor, prompt_lengths: torch.Tensor) -> int:
    """Longest token prefix common to all rows, inside the shortest prompt and before the last column.

    Args:
        input_ids: [B, T] token ids.
        prompt_lengths: [B] prompt tokens per row.

    Returns:
        The number of leading tokens every row shares.
    """
    limit = min(int(prompt_lengths.min()), input_ids.shape[1] - 1)
    if limit <= 0:
        return 0
    head = input_ids[:, :limit]
    same = (head == head[:1]).all(dim=0)
    diff = (~same).nonzero()
    return int(diff[0, 0]) if len(diff) else limit


def _decide(model: Any, mode: SharedPrefix, batch: Mapping[str, torch.Tensor], min_prefix: int) -> int:
    """Prefix length to share for this batch (0 = plain path)."""
    if mode == "off":
        return 0
    if mode not in ("auto", "on"):
        raise ValueError(f"shared_prefix must be auto, on or off, not {mode!r}")
    supported = supports_shared_prefix(model)
    if mode == "on" and not supported:
        raise ValueError(
            "shared_prefix: on needs a decoder-only model with a DynamicCache and no gradient "
            "checkpointing; use auto or off"
        )
    if not supported:
        return 0
    n = shared_prefix_length(batch["input_ids"], batch["prompt_lengths"])
    holes = (~batch["attention_mask"][:, :n].bool()).any(dim=0).nonzero()
    if len(holes):  # a padded (masked) column ends the shared part, e.g. in a left-padded batch
        n = int(holes[0, 0])
    if mode == "auto" and (n < min_prefix or batch["input_ids"].shape[0] < 2):
        return 0
    return n


def _keep_mask(labels: torch.Tensor) -> torch.Tensor:
    """[B, T] bool: positions whose next token carries a label (the only logits the loss needs)."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return keep


def _logits_at(model: Any, keep: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """Run the model and return the logits of the ``keep`` positions ([N, V]) and its output."""
    if accepts(model, "logits_to_keep"):
        out = model(logits_to_keep=keep, **kwargs)
        return out.logits, out
    out = model(**kwargs)
    return out.logits[keep], out


def _plain(model: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Summed token cross-entropy of the whole padded batch in one forward."""
    labels = batch["labels"]
    keep = _keep_mask(labels)
    logits, _ = _logits_at(
        model,
        keep,
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        use_cache=False,
    )
    targets = labels[:, 1:][keep[:, :-1]]
    return F.cross_entropy(logits.float(), targets, reduction="sum")


def _shared(model: Any, batch: Mapping[str, torch.Tensor], prefix: int) -> torch.Tensor:
    """Summed token cross-entropy with the first ``prefix`` tokens run once and their cache shared."""
    from transformers import DynamicCache

    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    rows, width = ids.shape
    keep = _keep_mask(labels)
    cache = DynamicCache(config=base_model(model).config)
    total = torch.zeros((), dtype=torch.float32, device=ids.device)
    head_keep = keep[:, :prefix]
    if head_keep.any():
        # Prefix logits are the same for every row; only the next-token targets differ per row.
        head_logits, _ = _logits_at(
            model,
            head_keep.any(dim=0, keepdim=True),
            input_ids=ids[:1, :prefix],
            cache=cache,
            use_cache=True,
        )
        positions = head_keep.any(dim=0).nonzero().squeeze(1)
        logp = torch.log_softmax(head_logits.float(), dim=-1)  # [len(positions), V]
        targets = labels[:, positions + 1]  # [B, len(positions)]
        valid = targets != IGNORE_INDEX
        picked = logp.unsqueeze(0).expand(rows, -1, -1).gather(2, targets.clamp(min=0).unsqueeze(2))
        total = total - picked.squeeze(2)[valid].sum()
    else:
        model(input_ids=ids[:1, :prefix], cache=cache, use_cache=True, **last_logit_kwargs(model))
    expand_cache(cache, rows)
    positions = torch.arange(prefix, width, device=ids.device).unsqueeze(0).expand(rows, -1)
    suffix_mask = torch.cat([torch.ones_like(mask[:, :prefix]), mask[:, prefix:]], dim=1)
    tail_keep = keep[:, prefix:]
    logits, _ = _logits_at(
        model,
        tail_keep,
        input_ids=ids[:, prefix:],
        attention_mask=suffix_mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
    )
    targets = labels[:, prefix + 1 :][tail_keep[:, :-1]]
    return total + F.cross_entropy(logits.float(), targets, reduction="sum")


def causal_lm_loss(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    shared_prefix: SharedPrefix = "off",
    *,
    min_prefix: int = MIN_SHARED_PREFIX,
) -> LossResult:
    """Mean next-token cross-entropy over the batch's label tokens.

    Args:
        model: A transformers causal LM, or a peft model wrapping one.
        batch: Right-padded ``input_ids``, ``attention_mask``, ``labels`` ([B, T], -100 where no
            loss) and ``prompt_lengths`` ([B]), as built by :func:`collate`.
        shared_prefix: ``on`` always computes the rows' common prompt prefix once (error if the
            model cannot), ``auto`` does so when it pays (at least ``min_prefix`` shared tokens,
            two rows, a supported model), ``off`` runs the plain batch.
        min_prefix: Shortest shared prefix that ``auto`` uses.

    Returns:
        The loss (differentiable) with label-token and compute counts.
    """
    ids = batch["input_ids"]
    rows, width = ids.shape
    label_tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    prefix = _decide(model, shared_prefix, batch, min_prefix)
    summed = _shared(model, batch, prefix) if prefix > 0 else _plain(model, batch)
    loss = summed / max(label_tokens, 1)
    return LossResult(
        loss=loss,
        label_tokens=label_tokens,
        plain_tokens=rows * width,
        computed_tokens=rows * width - (rows - 1) * prefix,
        prompt_tokens_saved=(rows - 1) * prefix,
        shared_prefix=prefix,
    )
