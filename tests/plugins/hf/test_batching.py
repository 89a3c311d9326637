"""Batch planner: every row once, deterministic, low padding, long shared prefixes."""

from __future__ import annotations

import random

from fteval_hf.batching import common_prefix_length, plan_batches, plan_cost


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]], limit=2) == 2
    assert common_prefix_length([[5], [6]]) == 0
    assert common_prefix_length([[1, 2, 3]]) == 3
    assert common_prefix_length([]) == 0


def test_plan_cost_counts_padding_and_saved_prefix():
    ids = [[1, 2, 3, 4], [1, 2, 5], [9]]
    plan = plan_cost([[0, 1], [2]], [len(r) for r in ids], prompts=[[1, 2, 3], [1, 2], [9]])
    assert plan.plain_tokens == 2 * 4 + 1
    assert plan.padding_fraction == 1 / 9
    # Batch [0, 1] shares its 2 leading prompt tokens, computed once instead of twice.
    assert plan.shared_tokens == 9 - 2
    assert plan.prefix_saved_fraction == 2 / 6


def rows(seed: int, n: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(100) for _ in range(rng.randint(3, 60))] for _ in range(n)]


def test_plan_covers_each_row_once_and_is_deterministic():
    data = rows(0, 103)
    plan = plan_batches(data, 8, seed=4)
    flat = sorted(i for b in plan.batches for i in b)
    assert flat == list(range(103))
    assert sorted(len(b) for b in plan.batches) == [7] + [8] * 12
    assert plan_batches(data, 8, seed=4).batches == plan.batches
    assert plan_batches(data, 8, seed=5).batches != plan.batches


def test_length_grouping_cuts_padding():
    data = rows(1, 256)
    planned = plan_batches(data, 16, seed=0)
    shuffled = list(range(256))
    random.Random(0).shuffle(shuffled)
    naive = plan_cost([shuffled[i : i + 16] for i in range(0, 256, 16)], [len(r) for r in data])
    assert planned.padding_fraction < 0.1 < naive.padding_fraction
    ordered = plan_batches(data, 16, shuffle=False)
    longest = [max(len(data[i]) for i in b) for b in ordered.batches]
    assert longest == sorted(longest)


def test_grouping_by_prefix_keeps_shared_prompts_together():
    rng = random.Random(2)
    heads = [[rng.randrange(3, 100) for _ in range(40)] for _ in range(4)]
    data, prompt_lengths = [], []
    for i in range(64):  # four interleaved families of prompts, lengths unrelated to the family
        prompt = [1] + heads[i % 4] + [rng.randrange(3, 100) for _ in range(rng.randint(1, 10))]
        data.append(prompt + [rng.randrange(3, 100) for _ in range(rng.randint(2, 12))])
        prompt_lengths.append(len(prompt))
    by_length = plan_batches(data, 8, prompt_lengths=prompt_lengths)
    grouped = plan_batches(data, 8, prompt_lengths=prompt_lengths, group_by_prefix=True)
    assert sorted(i for b in grouped.batches for i in b) == list(range(64))
    assert all(len({i % 4 for i in b}) == 1 for b in grouped.batches)
    assert grouped.prefix_saved_fraction > 0.6 > by_length.prefix_saved_fraction
    assert grouped.shared_tokens < by_length.shared_tokens


def test_grouping_keeps_length_plan_when_prefix_is_global():
    data = [[1, 2, 3, 4, 5] + r for r in rows(3, 40)]
    plain = plan_batches(data, 8, prompt_lengths=[6] * 40)
    grouped = plan_batches(data, 8, prompt_lengths=[6] * 40, group_by_prefix=True)
    assert grouped.batches == plain.batches
    assert grouped.padding_fraction == plain.padding_fraction
