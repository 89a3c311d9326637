"""Result-set comparison: multisets, ORDER BY, column permutations, number spellings."""

from __future__ import annotations

from fteval_sql.compare import results_match


def test_row_order_ignored_without_order_by_but_not_with_it() -> None:
    gold, pred = [(1,), (2,)], [(2,), (1,)]
    assert results_match(gold, pred, 1, 1, ordered=False)
    assert not results_match(gold, pred, 1, 1, ordered=True)


def test_multiset_counts_duplicates() -> None:
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], 1, 1, ordered=False)
    assert not results_match([(1,), (1,)], [(1,)], 1, 1, ordered=False)


def test_columns_may_be_permuted_as_a_whole() -> None:
    gold = [("a", 1), ("b", 2)]
    assert results_match(gold, [(1, "a"), (2, "b")], 2, 2, ordered=True)
    # each column matches as a multiset, but no single permutation gives the rows
    assert not results_match(gold, [(2, "a"), (1, "b")], 2, 2, ordered=False)


def test_width_matters_even_when_empty() -> None:
    assert results_match([], [], 2, 2, ordered=False)
    assert not results_match([], [], 2, 1, ordered=False)


def test_int_and_float_spellings_and_float_noise() -> None:
    assert results_match([(2,)], [(2.0,)], 1, 1, ordered=False)
    assert results_match([(0.1 + 0.2,)], [(0.3,)], 1, 1, ordered=False)
    assert not results_match([(2,)], [("2",)], 1, 1, ordered=False)
    assert not results_match([(None,)], [(0,)], 1, 1, ordered=False)
