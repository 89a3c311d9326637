"""Greedy decoding of Llama-layout models over a preallocated cache, one lean forward per step.

``decode.py`` prefills each batch with the model itself (so prefix sharing and the prompt maths are
unchanged) and hands the filled cache here. Each step then runs the decoder layers directly on
their weights: the same modules and kernels as the model's forward (RMSNorm, projections, rotary
tables computed by the model's own rotary embedding, SDPA with the same boolean mask, the MLP), but
without building masks, position embeddings and cache objects anew for every token, and with the
rows' end checks done on tensors instead of per-row Python. Models this loop does not know fall back
to the general loop in ``decode.py``; see :func:`supports_static_greedy`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .prefix_cache import base_model

__all__ = ["DecodeStats", "greedy_static", "supports_static_greedy"]

# Rotary variants whose tables depend only on the position (not on the sequence length seen so far).
_STATIC_ROPE = {"default", "linear", "llama3", "yarn"}


@dataclass
class DecodeStats:
    """Counters a caller can pass to ``generate``: decode steps, row-steps and time in them."""

    steps: int = 0  # model calls after the prefill
    row_steps: int = 0  # sum over steps of the rows computed
    seconds: float = 0.0  # wall time of those steps (bookkeeping included)
    model_seconds: float = 0.0  # the part spent in the model's forward (the rest is bookkeeping)
    loops: dict[str, int] = field(default_factory=dict)  # batches decoded by each loop


def supports_static_greedy(model: Any) -> bool:
    """Whether the lean loop can decode ``model``: a plain (not peft-wrapped) Llama-layout model.

    It reads the layers' weights directly, so adapters that change the forward, other layer
    layouts, sliding windows, length-dependent rotary scaling and non-SDPA/eager attention are
    left to the general loop.
    """
    if base_model(model) is not model:
        return False
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "llama":
        return False
    if getattr(config, "_attn_implementation", "sdpa") not in ("sdpa", "eager"):
        return False
    rope = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    if rope not in _STATIC_ROPE or getattr(config, "pretraining_tp", 1) != 1:
        return False
    inner = getattr(model, "model", None)
    needed = ("embed_tokens", "layers", "norm", "rotary_emb")
    return inner is not None and all(hasattr(inner, n) for n in needed) and hasattr(model, "lm_head")


class _Llama:
    """One decode step of a Llama-layout model over preallocated key/value buffers."""

    def __init__(self, model: Any, buffers: list[tuple[torch.Tensor, torch.Tensor]], length: int) -> None:
        inner = model.model
        self.model, self.inner, self.buffers = model, inner, buffers
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.groups = self.heads // self.kv_heads
        self.scaling = self.head_dim**-0.5
        self.eager = config._attn_implementation == "eager"
        probe = buffers[0][0]
        positions = torch.arange(length, device=probe.device).unsqueeze(0)
        cos, sin = inner.rotary_emb(probe, position_ids=positions)  # the model's own tables
        self.cos, self.sin = cos[0], sin[0]

    def step(self, tokens: torch.Tensor, positions: torch.Tensor, column: int, mask: torch.Tensor) -> torch.Tensor:
        """Logits [B, V] after ``tokens`` [B]; their keys go to cache ``column``, ``mask`` is additive."""
        from torch.nn import functional as F

        rows = tokens.shape[0]
        hidden = self.inner.embed_tokens(tokens.unsqueeze(1))  # [B, 1, H]
        cos = self.cos[positions].unsqueeze(1).unsqueeze(1)  # [B, 1, 1, D]
        sin = self.sin[positions].unsqueeze(1).unsqueeze(1)
        for layer, (keys, values) in zip(self.inner.layers, self.buffers, strict=True):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(rows, 1, self.heads, self.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(rows, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(rows, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
            keys[:, :, column : column + 1] = k
            values[:, :, column : column + 1] = v
            seen_k, seen_v = keys[:, :, : column + 1], values[:, :, : column + 1]
            if self.eager:
                out = self._eager(q, seen_k, seen_v, mask)
            elif self.groups > 1:  # one query per head: the group's heads as queries of its kv head
                packed = q.reshape(rows, self.kv_heads, self.groups, self.head_dim)
                out = F.scaled_dot_product_attention(packed, seen_k, seen_v, attn_mask=mask, scale=self.scaling)
            else:
                out = F.scaled_dot_product_attention(q, seen_k, seen_v, attn_mask=mask, scale=self.scaling)
            out = out.reshape(rows, -1, 1, self.head_dim).transpose(1, 2).reshape(rows, 1, -1)
            hidden = hidden + attn.o_proj(out)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        logits: torch.Tensor = self.model.lm_head(self.inner.norm(hidden))[:, -1].float()
        return logits

    def _eager(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The eager attention maths of transformers' Llama (kv heads repeated, additive mask)."""
        if self.groups > 1:
            k = k.repeat_interleave(self.groups, dim=1)
            v = v.repeat_interleave(self.groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling
        scores = scores + mask.clamp(min=torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        return torch.matmul(weights, v)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    """The rotary embedding's half rotation (as transformers' Llama computes it)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _ends(
    history: torch.Tensor, step: int, tokens: torch.Tensor, eos: torch.Tensor | None, stops: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Tokens to strip per row if it ended at ``step`` (EOS first, then stops in order), else 0."""
    cut = torch.zeros_like(tokens)
    for stop in reversed(stops):  # the first matching stop wins: later ones are overwritten
        n = stop.numel()
        if 0 < n <= step + 1:
            hit = (history[:, step + 1 - n : step + 1] == stop).all(dim=1)
            cut = torch.where(hit, n, cut)
    if eos is not None:
        cut = torch.where(torch.isin(tokens, eos), 1, cut)
    return cut


def greedy_static(
    model: Any,
    logits: torch.Tensor,
    cache: Any,
    mask: torch.Tensor,
    positions: torch.Tensor,
    *,
    max_new_tokens: int,
    eos: set[int],
    stops: Sequence[Sequence[int]],
    stats: DecodeStats | None = None,
) -> list[list[int]]:
    """Greedy continuation of a prefilled batch; finished rows are dropped from the buffers.

    Args:
        model: a model for which :func:`supports_static_greedy` holds.
        logits: the prefill's last-position logits [B, V].
        cache: the prefill's cache; each layer exposes ``keys``/``values`` [B, H, L, D].
        mask: the prefill's 0/1 attention mask [B, L] (left padding is 0).
        positions: each row's next position [B].
        max_new_tokens: most tokens per row.
        eos: ids that end a row (not included in its output).
        stops: token sequences that end a row (not included in its output).
        stats: counters to add this batch's decode steps to.

    Returns:
        The generated ids per row, as the general loop returns them.
    """
    started = time.perf_counter()
    rows, width = mask.shape
    device = logits.device
    length = width + max_new_tokens
    buffers = []
    for layer in cache.layers:
        k, v = layer.keys, layer.values
        shape = (rows, k.shape[1], length, k.shape[-1])
        bk, bv = k.new_empty(shape), v.new_empty(shape)
        bk[:, :, :width], bv[:, :, :width] = k, v
        buffers.append((bk, bv))
    cache.layers = []  # the buffers hold the keys now; drop the prefill's copies
    runner = _Llama(model, buffers, int(positions.max()) + max_new_tokens)
    del buffers
    # SDPA turns a boolean mask into this additive one in every call; build it once per batch.
    attend = torch.zeros((rows, 1, 1, length), dtype=runner.cos.dtype, device=device)
    attend[:, 0, 0, :width].masked_fill_(mask == 0, float("-inf"))
    eos_ids = torch.tensor(sorted(eos), dtype=torch.long, device=device) if eos else None
    stop_ids = [torch.tensor(list(s), dtype=torch.long, device=device) for s in stops if s]
    history = torch.zeros((rows, max_new_tokens), dtype=torch.long, device=device)
    kept = torch.full((rows,), max_new_tokens, dtype=torch.long)  # output length of each row
    active = torch.arange(rows, device=device)  # row of each buffer slot
    live = torch.ones(rows, dtype=torch.bool, device=device)  # slots still generating
    steps = row_steps = 0
    in_model = 0.0
    for step in range(max_new_tokens):
        tokens = logits.argmax(dim=-1)
        history[active, step] = tokens
        cut = _ends(history[active], step, tokens, eos_ids, stop_ids)
        ended = (cut > 0) & live
        if bool(ended.any()):
            kept[active[ended].cpu()] = (step + 1 - cut[ended]).cpu()
            live &= ~ended
        n_live = int(live.sum())
        if n_live == 0 or step == max_new_tokens - 1:
            break
        if (len(active) - n_live) * 4 >= len(active):  # compact: stop computing rows that are done
            keep = live.nonzero().squeeze(1)
            runner.buffers = [(k[keep], v[keep]) for k, v in runner.buffers]
            active, tokens, positions, attend = active[keep], tokens[keep], positions[keep], attend[keep]
            live = live[keep]
        column = width + step
        called = time.perf_counter()
        logits = runner.step(tokens, positions, column, attend[:, :, :, : column + 1])
        in_model += time.perf_counter() - called
        positions = positions + 1
        steps, row_steps = steps + 1, row_steps + len(active)
    if stats is not None:
        stats.steps, stats.row_steps = stats.steps + steps, stats.row_steps + row_steps
        stats.seconds += time.perf_counter() - started
        stats.model_seconds += in_model
    out = history.cpu().tolist()
    return [out[r][: int(kept[r])] for r in range(rows)]
