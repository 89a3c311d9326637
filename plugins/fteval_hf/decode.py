"""Batched generation with a KV cache, left padding, and an optional prefix prefilled once.

With prefix sharing, the prompts' longest common token prefix is prefilled once (batch size 1),
its cache repeated over the rows, and only the row-specific suffixes are prefilled; the prefix
cache is kept across the batches of one call and reused as far as the next batch shares it.
Greedy outputs are token-identical to the plain path (same model maths, fewer tokens).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar, cast

import torch

from .batching import common_prefix_length, plan_batches
from .native_llama import NativeLlama
from .prefix_cache import (
    MIN_SHARED_PREFIX,
    SharedPrefix,
    base_model,
    expand_cache,
    last_logit_kwargs,
    supports_shared_prefix,
)
from .static_decode import DecodeStats, auto_slots, stream_static, supports_static_greedy

__all__ = ["DecodeStats", "generate", "stream"]

T = TypeVar("T")


Layers = list[tuple[torch.Tensor, torch.Tensor]]


class _PrefixMemo:
    """The last prefix's batch-1 key/value tensors, reused while later batches share it."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.layers: Layers = []

    def layers_for(self, model: Any, prefix: list[int], device: torch.device) -> Layers:
        """Every layer's batch-1 keys and values of ``prefix``, computing only the part the memo lacks."""
        reuse = common_prefix_length([self.ids, prefix])
        past = [(k[:, :, :reuse], v[:, :, :reuse]) for k, v in self.layers] if reuse else None
        if reuse < len(prefix):
            past = _extend(model, past, prefix[reuse:], reuse, device)
        self.ids, self.layers = list(prefix), list(past or [])
        return self.layers


def _extend(model: Any, past: Layers | None, ids: list[int], start: int, device: torch.device) -> Layers:
    """Every layer's keys and values after running ``ids`` (batch 1, from position ``start``) on ``past``."""
    tokens = torch.tensor([ids], dtype=torch.long, device=device)
    if isinstance(model, NativeLlama):
        _, extended = model.forward(tokens, torch.arange(start, start + len(ids)).unsqueeze(0), None, past)
        return extended
    cache = _cache(model, past)
    model(input_ids=tokens, cache=cache, use_cache=True, **last_logit_kwargs(model))
    layers: Any = cache.layers  # DynamicLayers: keys and values are set once prefilled
    return [(layer.keys, layer.values) for layer in layers]


def _cache(model: Any, past: Layers | None) -> Any:
    """A transformers DynamicCache holding ``past`` (empty when None)."""
    from transformers import DynamicCache

    config = base_model(model).config
    return DynamicCache(past, config=config) if past else DynamicCache(config=config)


@functools.cache
def _grown_layer() -> type:
    """A DynamicLayer over a preallocated buffer (built on first use: transformers loads lazily)."""
    from transformers.cache_utils import DynamicLayer

    class GrownLayer(DynamicLayer):
        """Keys/values are views of a buffer's filled part; new tokens are written in place."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, extra: int) -> None:
            super().__init__()
            self.length = keys.shape[-2]
            shape = (*keys.shape[:2], self.length + extra, keys.shape[-1])
            self.buf_k, self.buf_v = keys.new_empty(shape), values.new_empty(shape)
            self.buf_k[:, :, : self.length], self.buf_v[:, :, : self.length] = keys, values
            self.device, self.is_initialized = keys.device, True
            self._view()

        def _view(self) -> None:
            self.keys = self.buf_k[:, :, : self.length]
            self.values = self.buf_v[:, :, : self.length]

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            n = key_states.shape[-2]
            self.buf_k[:, :, self.length : self.length + n] = key_states
            self.buf_v[:, :, self.length : self.length + n] = value_states
            self.length += n
            self._view()
            return self.buf_k[:, :, : self.length], self.buf_v[:, :, : self.length]

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            self.buf_k, self.buf_v = self.buf_k[indices], self.buf_v[indices]
            self._view()

    return GrownLayer


def _room_to_grow(cache: Any, extra: int) -> None:
    """Give every layer of a prefilled DynamicCache room for ``extra`` tokens, written in place.

    DynamicLayer concatenates on each step, copying the whole cache: O(length) per token. The
    grown layers write new keys into preallocated buffers instead (same values, same maths).
    """
    from transformers.cache_utils import DynamicLayer

    grown = _grown_layer()
    cache.layers = [
        grown(layer.keys, layer.values, extra) if type(layer) is DynamicLayer and layer.is_initialized else layer
        for layer in cache.layers
    ]


def _left_pad(rows: Sequence[Sequence[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded [B, L] ids and attention mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(list(r), dtype=torch.long)
            mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def _prefill(
    model: Any, prompts: Sequence[Sequence[int]], prefix: int, memo: _PrefixMemo, pad: int
) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
    """Run the prompts; return last logits [B, V], the cache, attention mask and next positions.

    The cache's layers expose ``keys``/``values`` (a DynamicCache, or the native runtime's tensors).
    """
    device = next(model.parameters()).device
    ids, mask = _left_pad([p[prefix:] for p in prompts], pad, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0) + prefix
    past = memo.layers_for(model, list(prompts[0][:prefix]), device) if prefix else None
    if prefix:
        mask = torch.cat([torch.ones_like(mask[:, :1]).expand(-1, prefix), mask], dim=1)
    if isinstance(model, NativeLlama):
        from types import SimpleNamespace

        logits, layers = model(ids, positions, mask, past)
        cache = SimpleNamespace(layers=[SimpleNamespace(keys=k, values=v) for k, v in layers])
        return logits, cache, mask, positions[:, -1] + 1
    cache = _cache(model, past)
    if past:
        expand_cache(cache, len(prompts))
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        **last_logit_kwargs(model),
    )
    return out.logits[:, -1].float(), out.cache, mask, positions[:, -1] + 1


def _pick(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator) -> torch.Tensor:
    """Next token per row: argmax when greedy, else nucleus sampling with ``gen``."""
    if temperature <= 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p  # keep the smallest set reaching top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs.cpu(), 1, generator=gen).squeeze(1).to(logits.device)


def _ended(out: list[int], eos: set[int], stops: Sequence[Sequence[int]]) -> int | None:
    """Tokens to strip from ``out`` if it just ended (EOS or a stop sequence), else None."""
    if out and out[-1] in eos:
        return 1
    for stop in stops:
        if stop and len(out) >= len(stop) and out[-len(stop) :] == list(stop):
            return len(stop)
    return None


def _generate_batch(
    model: Any,
    prompts: Sequence[Sequence[int]],
    prefix: int,
    memo: _PrefixMemo,
    *,
    max_new_tokens: int,
    eos: set[int],
    pad: int,
    stops: Sequence[Sequence[int]],
    temperature: float,
    top_p: float,
    gen: torch.Generator,
    stats: DecodeStats | None,
) -> list[list[int]]:
    """Decode one batch; finished rows are dropped from the cache as they accumulate."""
    logits, cache, mask, positions = _prefill(model, prompts, prefix, memo, pad)
    if stats is not None:
        stats.loops["general"] = stats.loops.get("general", 0) + 1
    started = time.perf_counter()
    _room_to_grow(cache, max_new_tokens)
    outputs: list[list[int]] = [[] for _ in prompts]
    active = list(range(len(prompts)))  # row of each cache slot
    done = [False] * len(prompts)
    steps = row_steps = 0
    in_model = 0.0
    for step in range(max_new_tokens):
        tokens = _pick(logits, temperature, top_p, gen)
        for slot, row in enumerate(active):
            if done[row]:
                continue
            outputs[row].append(int(tokens[slot]))
            cut = _ended(outputs[row], eos, stops)
            if cut is not None:
                del outputs[row][-cut:]
                done[row] = True
        finished = [s for s, r in enumerate(active) if done[r]]
        if len(finished) == len(active) or step == max_new_tokens - 1:
            break
        if len(finished) * 4 >= len(active):  # compact: stop computing rows that are done
            keep = torch.tensor([s for s, r in enumerate(active) if not done[r]], device=mask.device)
            cache.batch_select_indices(keep)
            tokens, mask, positions = tokens[keep], mask[keep], positions[keep]
            active = [active[s] for s in keep.tolist()]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        called = time.perf_counter()
        out = model(
            input_ids=tokens.unsqueeze(1),
            attention_mask=mask,
            position_ids=positions.unsqueeze(1),
            cache=cache,
            use_cache=True,
        )
        cache, logits, positions = out.cache, out.logits[:, -1].float(), positions + 1
        in_model += time.perf_counter() - called
        steps, row_steps = steps + 1, row_steps + len(active)
    if stats is not None:
        stats.steps, stats.row_steps = stats.steps + steps, stats.row_steps + row_steps
        stats.seconds += time.perf_counter() - started
        stats.model_seconds += in_model
    return outputs


def stream(
    model: Any,
    prompt_ids: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    eos_token_id: int | Sequence[int] | None,
    pad_token_id: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    stop_sequences: Sequence[Sequence[int]] | None = None,
    shared_prefix: SharedPrefix = "off",
    batch_size: int | None = None,
    min_prefix: int = MIN_SHARED_PREFIX,
    loop: Literal["auto", "static", "general"] = "auto",
    stats: DecodeStats | None = None,
    slots: int | Literal["auto"] | None = None,
) -> Iterator[list[tuple[int, list[int]]]]:
    """Generate continuations for token-id prompts, batched with a KV cache, yielding them as they end.

    Args:
        model: A transformers causal LM, or a peft model wrapping one (run unmerged).
        prompt_ids: Prompt tokens per example.
        max_new_tokens: Most tokens generated per example.
        eos_token_id: Token id(s) that end an output (not included in it).
        pad_token_id: Id used for padding positions.
        temperature: 0 is greedy; above 0 samples (with ``top_p``) from a generator seeded by ``seed``.
        top_p: Nucleus sampling mass.
        seed: Sampling seed; outputs are deterministic for a fixed seed, prompts and batch size.
        stop_sequences: Token sequences that end an output (not included in it).
        shared_prefix: ``on``/``auto`` prefill the prompts' common prefix once per batch (``auto``
            only when at least ``min_prefix`` tokens are shared and the model supports it).
        batch_size: Prompts per forward batch (length-sorted); ``None`` runs all at once.
        min_prefix: Shortest shared prefix that ``auto`` uses.
        loop: ``static`` decodes greedily with the lean per-step forward of ``static_decode.py``
            (greedy Llama-layout models only); ``general`` with the model's own forward (any
            model, sampling); ``auto`` picks ``static`` where it applies. Both compute the same
            maths (token-identical in the tests and on all 1,083 ViGGO test rows; rows batched
            differently can differ in the last bits of a float sum, as between any two batchings).
        stats: counters that receive the decode steps, row-steps and their wall time.
        slots: rows the static loop decodes at once (its prefills take the free slots); ``None``:
            ``batch_size``; ``auto``: :func:`~fteval_hf.static_decode.auto_slots`, at least ``batch_size``.

    Yields:
        Groups of (prompt index, generated token ids) as rows end (the static loop) or batches end
        (the general loop); every index once. Each step of the work runs in inference mode; the
        caller's code between yields does not.
    """
    if not prompt_ids:
        return
    if shared_prefix not in ("auto", "on", "off"):
        raise ValueError(f"shared_prefix must be auto, on or off, not {shared_prefix!r}")
    native = isinstance(model, NativeLlama)
    sharing = shared_prefix != "off" and (native or supports_shared_prefix(model))
    if shared_prefix == "on" and not sharing:
        raise ValueError("shared_prefix: on needs a decoder-only model with a DynamicCache; use auto or off")
    if loop not in ("auto", "static", "general"):
        raise ValueError(f"loop must be auto, static or general, not {loop!r}")
    static = loop != "general" and temperature <= 0.0 and (native or supports_static_greedy(model))
    if loop == "static" and not static:
        raise ValueError("loop: static needs greedy decoding (temperature 0) of a plain Llama-layout model")
    if native and not static:
        raise ValueError("the native Llama runtime decodes greedily only (temperature 0, loop auto or static)")
    eos = {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id or ())
    size = batch_size or len(prompt_ids)
    plan = plan_batches(prompt_ids, size, shuffle=False)
    gen = torch.Generator().manual_seed(seed)
    memo = _PrefixMemo()
    stops = list(stop_sequences or ())

    def prefix_of(prompts: list[list[int]]) -> int:
        """Tokens of the prompts' common prefix to prefill once (0: none)."""
        if not sharing:
            return 0
        prefix = common_prefix_length(prompts, limit=min(len(p) for p in prompts) - 1)
        return 0 if shared_prefix == "auto" and prefix < min_prefix else prefix

    was_training = model.training
    model.eval()
    try:
        if static:
            order = [i for idx in plan.batches for i in idx]
            steps = stream_static(
                model,
                [prompt_ids[i] for i in order],
                lambda prompts: _prefill(model, prompts, prefix_of(prompts), memo, pad_token_id),
                slots=(
                    max(size, auto_slots(model, max(len(p) for p in prompt_ids) + max_new_tokens))
                    if slots == "auto"
                    else slots or size
                ),
                max_new_tokens=max_new_tokens,
                eos=eos,
                stops=stops,
                stats=stats,
            )
            for ended in _in_inference_mode(steps):
                yield [(order[row], out) for row, out in ended]
            return
        for idx in plan.batches:
            prompts = [list(prompt_ids[i]) for i in idx]
            with torch.inference_mode():
                outs = _generate_batch(
                    model,
                    prompts,
                    prefix_of(prompts),
                    memo,
                    max_new_tokens=max_new_tokens,
                    eos=eos,
                    pad=pad_token_id,
                    stops=stops,
                    temperature=temperature,
                    top_p=top_p,
                    gen=gen,
                    stats=stats,
                )
            yield list(zip(idx, outs, strict=True))
    finally:
        model.train(was_training)


def _in_inference_mode(steps: Iterator[T]) -> Iterator[T]:
    """The items of ``steps``, each computed in inference mode (the mode never spans a yield)."""
    while True:
        with torch.inference_mode():
            item = next(steps, _DONE)
        if item is _DONE:
            return
        yield cast(T, item)


_DONE = object()


def generate(model: Any, prompt_ids: Sequence[Sequence[int]], **kwargs: Any) -> list[list[int]]:
    """The generated token ids per prompt, in input order: :func:`stream`'s outputs collected (same arguments)."""
    results: list[list[int]] = [[] for _ in prompt_ids]
    for ended in stream(model, prompt_ids, **kwargs):
        for i, out in ended:
            results[i] = out
    return results
