"""Batch planning: length-grouped batches that keep padding low and shared prompt prefixes long."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BatchPlan", "common_prefix_length", "plan_batches", "plan_cost"]

# Rows whose prompts share at least this many tokens beyond the data set's common prefix are worth
# keeping in one batch (measured threshold of the shared-prefix path; see prefix_cache.MIN_SHARED_PREFIX).
MIN_GROUP_EXTRA_PREFIX = 16


def common_prefix_length(rows: Sequence[Sequence[int]], limit: int | None = None) -> int:
    """Length of the longest token prefix that every row shares (capped at ``limit``).

    Args:
        rows: Token id sequences.
        limit: Largest length to report; ``None`` means no cap beyond the shortest row.

    Returns:
        The number of leading positions where all rows hold the same token.
    """
    if not rows:
        return 0
    cap = min(len(r) for r in rows)
    if limit is not None:
        cap = min(cap, limit)
    first = rows[0]
    n = 0
    while n < cap and all(r[n] == first[n] for r in rows[1:]):
        n += 1
    return n


@dataclass(frozen=True)
class BatchPlan:
    """Batches of example indices with what they cost.

    Attributes:
        batches: Example indices per batch, in training order.
        padding_fraction: Padding tokens / tokens a plain batch processes (rows x longest row).
        prefix_saved_fraction: Prompt tokens the shared-prefix path skips / all prompt tokens.
        plain_tokens: Tokens a plain (padded) batch processes, summed over batches.
        shared_tokens: Tokens the shared-prefix path computes, summed over batches.
    """

    batches: list[list[int]]
    padding_fraction: float
    prefix_saved_fraction: float
    plain_tokens: int
    shared_tokens: int


def _batch_cost(
    idx: Sequence[int], lengths: Sequence[int], prompts: Sequence[Sequence[int]] | None
) -> tuple[int, int, int]:
    """(plain tokens, real tokens, prompt tokens the shared path saves) of one batch."""
    longest = max(lengths[i] for i in idx)
    real = sum(lengths[i] for i in idx)
    saved = 0
    if prompts is not None and len(idx) > 1:
        # As in loss.shared_prefix_length: inside the shortest prompt and before the last column.
        limit = min(min(len(prompts[i]) for i in idx), longest - 1)
        shared = common_prefix_length([prompts[i] for i in idx], limit=max(limit, 0))
        saved = (len(idx) - 1) * shared
    return len(idx) * longest, real, saved


def plan_cost(
    batches: Sequence[Sequence[int]],
    lengths: Sequence[int],
    prompts: Sequence[Sequence[int]] | None = None,
) -> BatchPlan:
    """Measure padding and prefix savings of a given list of batches.

    Args:
        batches: Example indices per batch.
        lengths: Total tokens (prompt + completion) per example.
        prompts: Prompt token ids per example; ``None`` skips prefix accounting.

    Returns:
        The plan with its padding fraction and saved-prefix fraction.
    """
    plain = real = saved = 0
    for idx in batches:
        p, r, s = _batch_cost(idx, lengths, prompts)
        plain, real, saved = plain + p, real + r, saved + s
    prompt_total = sum(len(prompts[i]) for b in batches for i in b) if prompts else 0
    return BatchPlan(
        batches=[list(b) for b in batches],
        padding_fraction=(plain - real) / plain if plain else 0.0,
        prefix_saved_fraction=saved / prompt_total if prompt_total else 0.0,
        plain_tokens=plain,
        shared_tokens=plain - saved,
    )


def _chunk(order: Sequence[int], size: int) -> list[list[int]]:
    """Split an ordering into consecutive batches of ``size`` (the last may be short)."""
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def _by_length(idx: Sequence[int], lengths: Sequence[int], rng: random.Random) -> list[int]:
    """Indices sorted by length, ties in random (seeded) order."""
    keys = {i: rng.random() for i in idx}
    return sorted(idx, key=lambda i: (lengths[i], keys[i]))


def _prefix_groups(idx: Sequence[int], prompts: Sequence[Sequence[int]], min_extra: int) -> list[list[int]]:
    """Split rows into groups whose prompts share ``min_extra`` tokens beyond the global prefix."""
    order = sorted(idx, key=lambda i: tuple(prompts[i]))
    base = common_prefix_length([prompts[i] for i in order])
    groups: list[list[int]] = [[order[0]]] if order else []
    for cur in order[1:]:
        shared = common_prefix_length([prompts[groups[-1][0]], prompts[cur]])
        if shared >= base + min_extra:
            groups[-1].append(cur)
        else:
            groups.append([cur])
    return groups


def _grouped_batches(
    n: int,
    lengths: Sequence[int],
    prompts: Sequence[Sequence[int]],
    batch_size: int,
    rng: random.Random,
    min_extra: int,
) -> list[list[int]]:
    """Full batches from each prefix group (sorted by length); leftovers batched by length."""
    batches: list[list[int]] = []
    rest: list[int] = []
    for group in _prefix_groups(range(n), prompts, min_extra):
        ordered = _by_length(group, lengths, rng)
        full = len(ordered) - len(ordered) % batch_size
        batches += _chunk(ordered[:full], batch_size)
        rest += ordered[full:]
    return batches + _chunk(_by_length(rest, lengths, rng), batch_size)


def plan_batches(
    token_ids: Sequence[Sequence[int]],
    batch_size: int,
    *,
    seed: int = 0,
    prompt_lengths: Sequence[int] | None = None,
    group_by_prefix: bool = False,
    shuffle: bool = True,
    min_group_extra_prefix: int = MIN_GROUP_EXTRA_PREFIX,
) -> BatchPlan:
    """Plan length-grouped batches (optionally grouped by shared prompt prefix first).

    Rows are sorted by length (ties broken by a seeded shuffle) and cut into batches, whose order
    is then shuffled with the same seed, so the plan is deterministic for a seed. With
    ``group_by_prefix`` rows are first grouped by prompt prefix beyond the prefix every row shares;
    the grouped plan is kept only if it computes fewer tokens than the length-only plan.

    Args:
        token_ids: Per example, prompt ids followed by completion ids.
        batch_size: Rows per batch.
        seed: Seed of the tie-break and batch-order shuffles.
        prompt_lengths: Prompt tokens per example; needed for prefix grouping and accounting.
        group_by_prefix: Group rows by shared prompt prefix before grouping by length.
        shuffle: Shuffle the batch order (training); ``False`` keeps shortest-first order.
        min_group_extra_prefix: Extra shared tokens that make rows a prefix group.

    Returns:
        The batches with their padding fraction and saved-prefix fraction.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    n = len(token_ids)
    lengths = [len(t) for t in token_ids]
    prompts = (
        [list(t[:p]) for t, p in zip(token_ids, prompt_lengths, strict=False)] if prompt_lengths is not None else None
    )
    rng = random.Random(seed)
    batches = _chunk(_by_length(range(n), lengths, rng), batch_size)
    plan = plan_cost(batches, lengths, prompts)
    if group_by_prefix and prompts is not None and n:
        grouped = plan_cost(
            _grouped_batches(n, lengths, prompts, batch_size, rng, min_group_extra_prefix),
            lengths,
            prompts,
        )
        if grouped.shared_tokens < plan.shared_tokens:
            plan = grouped
    if shuffle:
        order = plan.batches[:]
        random.Random(seed + 1).shuffle(order)
        plan = BatchPlan(
            order,
            plan.padding_fraction,
            plan.prefix_saved_fraction,
            plan.plain_tokens,
            plan.shared_tokens,
        )
    return plan
