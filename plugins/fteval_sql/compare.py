"""Result-set equality: multisets of rows, order only when the gold has ORDER BY, columns permutable.

Column order is tolerated (as taoyds/test-suite-sql-eval does): ``SELECT name, age`` and
``SELECT age, name`` answer the same question, and fteval scores answers, not their layout.
The number of columns must match exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

MAX_PERMUTATIONS = 2000
FLOAT_DIGITS = 6


def canonical(value: object) -> object:
    """A value that compares and hashes equal across int/float spellings and float noise."""
    if isinstance(value, float):
        rounded = round(value, FLOAT_DIGITS)
        return 0.0 if rounded == 0 else rounded
    return value


def results_match(
    gold: Sequence[tuple[Any, ...]], pred: Sequence[tuple[Any, ...]], gold_width: int, pred_width: int, ordered: bool
) -> bool:
    """Whether ``pred`` returns the same rows as ``gold`` under some column permutation.

    Args:
        gold: the gold query's rows.
        pred: the prediction's rows.
        gold_width: number of gold columns (known even when no rows came back).
        pred_width: number of predicted columns.
        ordered: compare row order too (the gold query has a top-level ORDER BY).

    Returns:
        True when some permutation of the predicted columns makes the results equal.
    """
    if gold_width != pred_width or len(gold) != len(pred):
        return False
    g = [tuple(canonical(v) for v in row) for row in gold]
    p = [tuple(canonical(v) for v in row) for row in pred]
    for perm in islice(_candidate_permutations(g, p, gold_width), MAX_PERMUTATIONS):
        moved = [tuple(row[i] for i in perm) for row in p]
        if (moved == g) if ordered else (Counter(moved) == Counter(g)):
            return True
    return False


def _candidate_permutations(
    g: list[tuple[Any, ...]], p: list[tuple[Any, ...]], width: int
) -> Iterator[tuple[int, ...]]:
    """Column assignments gold i -> pred perm[i] whose column multisets agree, by backtracking."""
    gold_cols = [Counter(row[i] for row in g) for i in range(width)]
    pred_cols = [Counter(row[i] for row in p) for i in range(width)]
    options = [[j for j in range(width) if pred_cols[j] == gold_cols[i]] for i in range(width)]
    if any(not opts for opts in options):
        return
    perm: list[int] = []
    used: set[int] = set()

    def extend(i: int) -> Iterator[tuple[int, ...]]:
        if i == width:
            yield tuple(perm)
            return
        # identity first, so the common case costs one check
        for j in sorted(options[i], key=lambda j: j != i):
            if j in used:
                continue
            perm.append(j)
            used.add(j)
            yield from extend(i + 1)
            perm.pop()
            used.discard(j)

    yield from extend(0)
