"""Greedy decoding of Llama-layout models: refilled slots over preallocated buffers, one lean step each.

``decode.py`` hands over all prompts of a call and a prefill function (the model's own forward, or
the native runtime's, so prefix sharing and the prompt maths are unchanged). Rows occupy slots; when
:data:`REFILL_AT` of the slots has finished, the next prompts are prefilled into them (continuous
batching), and each row's output is yielded as it ends, so steps stay full
instead of trailing off with a batch's longest row. Each step runs the decoder layers directly on
their weights: the same modules and kernels as the model's forward (RMSNorm, projections, rotary
tables from the model's own rotary embedding, SDPA with an additive mask, the MLP), without
rebuilding masks, position embeddings and cache objects for every token, and with end checks on
tensors instead of per-row Python. Each row attends only to its own keys. Other models, sampling
and adapters use the general loop in ``decode.py``; see :func:`supports_static_greedy`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .native_llama import attend, rotate_half
from .prefix_cache import base_model

__all__ = ["DecodeStats", "auto_slots", "stream_static", "supports_static_greedy"]

# Rotary variants whose tables depend only on the position (not on the sequence length seen so far).
_STATIC_ROPE = {"default", "linear", "llama3", "yarn"}


@dataclass
class DecodeStats:
    """Counters a caller can pass to ``generate``: decode steps, row-steps and time in them."""

    steps: int = 0  # model calls after the prefill
    row_steps: int = 0  # sum over steps of the rows computed
    seconds: float = 0.0  # wall time of those steps (bookkeeping included)
    model_seconds: float = 0.0  # the part spent in the model's forward (the rest is bookkeeping)
    loops: dict[str, int] = field(default_factory=dict)  # prefill calls (batches, refills) of each loop


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


#: Most rows the loop decodes at once when the caller leaves it to the loop: past this, a step's
#: cost grows as fast as its rows (ViGGO test split, tiny model, 2 threads: 64 slots 1.00x the
#: time, 128 slots 0.92x, 256 slots 0.97x).
MAX_SLOTS = 128
#: Free slots, as a fraction of all, at which waiting prompts are prefilled into them: rows that
#: ended keep their slots (computed, unused) until then; each refill is a prefill call. (ViGGO
#: test split, 128 slots, interleaved runs: 1/8 took 0.96-0.97x the time of 1/4.)
REFILL_AT = 1 / 8
#: Free slots, as a fraction, at which finished rows are dropped once no prompt waits.
DROP_AT = 1 / 4
#: Bytes the key/value buffers of all slots may take together.
CACHE_BUDGET = 2**30


def auto_slots(model: Any, width: int) -> int:
    """Rows to decode at once: :data:`MAX_SLOTS`, fewer when their caches of ``width`` columns would pass the budget."""
    config = model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    per_slot = int(2 * config.num_hidden_layers * kv_heads * head_dim * width)
    per_slot *= int(model.model.embed_tokens.weight.element_size())
    return max(1, min(MAX_SLOTS, CACHE_BUDGET // max(per_slot, 1)))


class _Llama:
    """One decode step of a Llama-layout model over preallocated key/value buffers."""

    def __init__(self, model: Any, length: int) -> None:
        inner = model.model
        self.model, self.inner = model, inner
        self.buffers: list[tuple[torch.Tensor, torch.Tensor]] = []
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.groups = self.heads // self.kv_heads
        self.scaling = self.head_dim**-0.5
        self.eager = config._attn_implementation == "eager"
        probe = inner.embed_tokens.weight
        positions = torch.arange(length, device=probe.device).unsqueeze(0)
        cos, sin = inner.rotary_emb(probe, position_ids=positions)  # the model's own tables
        self.cos, self.sin = cos[0], sin[0]

    def step(
        self, tokens: torch.Tensor, positions: torch.Tensor, columns: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Logits [B, V] after ``tokens`` [B]; row i's keys go to column ``columns[i]``.

        ``mask`` [B, 1, 1, C] is additive over the first C columns (C past every row's column).
        """

        rows, seen = tokens.shape[0], mask.shape[-1]
        width = self.buffers[0][0].shape[1]
        # Buffers are [slots, width, kv_heads, D]: row i's new keys (all heads) are one flat row.
        where = torch.arange(rows, device=tokens.device) * width + columns
        hidden = self.inner.embed_tokens(tokens.unsqueeze(1))  # [B, 1, H]
        cos = self.cos[positions].unsqueeze(1).unsqueeze(1)  # [B, 1, 1, D]
        sin = self.sin[positions].unsqueeze(1).unsqueeze(1)
        for layer, (keys, values) in zip(self.inner.layers, self.buffers, strict=True):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(rows, 1, self.heads, self.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(rows, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(rows, 1, self.kv_heads, self.head_dim).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            flat = self.kv_heads * self.head_dim
            keys.view(-1, flat).index_copy_(0, where, k.reshape(rows, flat))
            values.view(-1, flat).index_copy_(0, where, v.reshape(rows, flat))
            seen_k, seen_v = keys[:, :seen].transpose(1, 2), values[:, :seen].transpose(1, 2)
            if self.eager:
                out = self._eager(q, seen_k, seen_v, mask).transpose(1, 2)
            else:  # transformers' SDPA call (one query per head: GQA packs a group's heads as queries)
                out = attend(q, seen_k, seen_v, mask, self.groups, self.scaling)
            out = out.reshape(rows, 1, -1)
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


def _ends(
    history: torch.Tensor,
    rows: torch.Tensor,
    done: torch.Tensor,
    tokens: torch.Tensor,
    eos: torch.Tensor | None,
    stops: Sequence[torch.Tensor],
) -> torch.Tensor:
    """Tokens to strip per slot if its row just ended (EOS first, then stops in order), else 0.

    ``done`` counts each row's tokens so far; the last one is ``tokens``.
    """
    cut = torch.zeros_like(tokens)
    for stop in reversed(stops):  # the first matching stop wins: later ones are overwritten
        n = stop.numel()
        cols = (done.unsqueeze(1) - n + torch.arange(n, device=done.device)).clamp(min=0)
        hit = (history[rows.unsqueeze(1), cols] == stop).all(dim=1) & (done >= n)
        cut = torch.where(hit, n, cut)
    if eos is not None:
        cut = torch.where(torch.isin(tokens, eos), 1, cut)
    return cut


Prefill = Callable[[list[list[int]]], tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]]


class _Slots:
    """Fixed slots of rows being decoded: cache buffers, additive masks, positions and progress."""

    def __init__(self, runner: _Llama, count: int, width: int, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        ref = layers[0][0]
        self.runner, device = runner, ref.device
        shape = (count, width, ref.shape[1], ref.shape[-1])  # columns before heads: a step writes one row
        # Zeroed once: a masked column must hold finite numbers (0 x -inf would be NaN).
        runner.buffers = [(ref.new_zeros(shape), ref.new_zeros(shape)) for _ in layers]
        self.mask = torch.full((count, 1, 1, width), float("-inf"), dtype=runner.cos.dtype, device=device)
        zeros = torch.zeros(count, dtype=torch.long, device=device)
        self.rows, self.steps, self.positions, self.columns = zeros, zeros, zeros, zeros
        self.live = torch.zeros(count, dtype=torch.bool, device=device)
        self.logits: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def fill(
        self, slots: torch.Tensor, rows: torch.Tensor, new: tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]
    ) -> None:
        """Put prefilled rows into free ``slots``: keys from column 0, their mask, positions, logits."""
        logits, cache, mask, positions = new
        width = mask.shape[1]
        for (keys, values), layer in zip(self.runner.buffers, cache.layers, strict=True):
            keys[slots, :width] = layer.keys.transpose(1, 2)
            values[slots, :width] = layer.values.transpose(1, 2)
        cache.layers = []
        fresh = torch.full((len(slots), width), float("-inf"), dtype=self.mask.dtype, device=self.mask.device)
        self.mask[slots] = float("-inf")
        self.mask[slots, 0, 0, :width] = fresh.masked_fill_(mask == 1, 0.0)
        self.rows, self.steps = self.rows.index_put((slots,), rows), self.steps.index_fill(0, slots, 0)
        self.positions, self.live = self.positions.index_put((slots,), positions), self.live.index_fill(0, slots, True)
        self.columns = self.columns.index_fill(0, slots, width)
        if self.logits is None:
            self.logits = logits.new_zeros((len(self), logits.shape[-1]))
        self.logits[slots] = logits

    def keep(self, slots: torch.Tensor) -> None:
        """Drop every slot but ``slots`` (rows that still decode, once no prompt is waiting)."""
        # index_select copies whole rows (memcpy); advanced indexing gathers element by element.
        self.runner.buffers = [(k.index_select(0, slots), v.index_select(0, slots)) for k, v in self.runner.buffers]
        self.mask, self.rows, self.steps = self.mask[slots], self.rows[slots], self.steps[slots]
        self.positions, self.columns, self.live = self.positions[slots], self.columns[slots], self.live[slots]
        if self.logits is not None:
            self.logits = self.logits[slots]


def stream_static(
    model: Any,
    prompts: Sequence[Sequence[int]],
    prefill: Prefill,
    *,
    slots: int,
    max_new_tokens: int,
    eos: set[int],
    stops: Sequence[Sequence[int]],
    stats: DecodeStats | None = None,
) -> Iterator[list[tuple[int, list[int]]]]:
    """Greedy continuations of ``prompts`` as rows end: per step, (prompt index, generated ids) of each.

    At most ``slots`` rows decode at a time, refilled as rows end.

    Rows are taken in the given order; when :data:`REFILL_AT` of the slots has finished, the next prompts
    are prefilled (by ``prefill``, which may share their common prefix) and take the free slots,
    so every step computes a full batch until the queue runs out (then finished rows are dropped).
    Each row attends only to its own keys, so its output is what it would be decoded alone.

    Args:
        model: a model for which :func:`supports_static_greedy` holds.
        prompts: prompt token ids, in the order they should be started.
        prefill: runs a list of prompts; returns last logits [B, V], a cache whose layers expose
            ``keys``/``values`` [B, H, L, D], the 0/1 attention mask [B, L] and next positions [B].
        slots: most rows decoded at once.
        max_new_tokens: most tokens per row.
        eos: ids that end a row (not included in its output).
        stops: token sequences that end a row (not included in its output).
        stats: counters to add the decode steps to.

    Yields:
        The rows that ended at a step, with their ids as the general loop returns them; every
        prompt index once.
    """
    if max_new_tokens <= 0 or not prompts:
        if prompts:
            yield [(i, []) for i in range(len(prompts))]
        return
    started = time.perf_counter()
    device = model.model.embed_tokens.weight.device
    longest = max(len(p) for p in prompts)
    runner = _Llama(model, longest + max_new_tokens)
    eos_ids = torch.tensor(sorted(eos), dtype=torch.long, device=device) if eos else None
    stop_ids = [torch.tensor(list(s), dtype=torch.long, device=device) for s in stops if s]
    history = torch.zeros((len(prompts), max_new_tokens + 1), dtype=torch.long, device=device)
    state: _Slots | None = None
    queued = steps = row_steps = prefills = 0
    in_model = 0.0
    while True:
        live = int(state.live.sum()) if state is not None else 0
        free = len(state) - live if state is not None else slots
        if queued < len(prompts) and (free >= slots * REFILL_AT or live == 0):
            take = min(free, len(prompts) - queued)
            new = prefill([list(p) for p in prompts[queued : queued + take]])
            if state is None:
                state = _Slots(runner, take, longest + max_new_tokens, [(x.keys, x.values) for x in new[1].layers])
            state.fill(
                (~state.live).nonzero().squeeze(1)[:take], torch.arange(queued, queued + take, device=device), new
            )
            queued, prefills = queued + take, prefills + 1
        elif live == 0:
            break
        elif state is not None and queued == len(prompts) and free >= len(state) * DROP_AT:
            state.keep(state.live.nonzero().squeeze(1))  # no prompt waits: drop finished rows
        assert state is not None and state.logits is not None
        tokens = state.logits.argmax(dim=-1)
        # Finished rows still in a slot write to a scratch column and stop counting.
        history[state.rows, torch.where(state.live, state.steps, max_new_tokens)] = tokens
        state.steps = state.steps + state.live
        cut = _ends(history, state.rows, state.steps, tokens, eos_ids, stop_ids)
        ended = ((cut > 0) | (state.steps >= max_new_tokens)) & state.live
        if bool(ended.any()):
            rows, lengths = state.rows[ended].tolist(), (state.steps[ended] - cut[ended]).tolist()
            state.live = state.live & ~ended
            yield [(row, history[row, :n].tolist()) for row, n in zip(rows, lengths, strict=True)]
        if not bool(state.live.any()):
            continue
        called = time.perf_counter()
        slot = torch.arange(len(state), device=device)
        state.mask[slot, 0, 0, state.columns] = 0.0  # each row sees the key it writes now
        seen = int(state.columns.max()) + 1
        state.logits = runner.step(tokens, state.positions, state.columns, state.mask[:, :, :, :seen])
        in_model += time.perf_counter() - called
        state.columns = state.columns + state.live  # finished rows rewrite one column
        state.positions = state.positions + state.live
        steps, row_steps = steps + 1, row_steps + len(state)
    if stats is not None:
        stats.steps, stats.row_steps = stats.steps + steps, stats.row_steps + row_steps
        stats.seconds += time.perf_counter() - started
        stats.model_seconds += in_model
        stats.loops["static"] = stats.loops.get("static", 0) + prefills
