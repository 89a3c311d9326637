"""The rows of a named split, including splits carved out of train (``{from: train, fraction, seed}``).

A carved split takes ``round(fraction * n)`` of the train file's n rows (after its column renames,
before its shuffle and limit), picked by a permutation seeded with the split's seed; the train
split keeps the rest in file order. eval is carved first, then valid from what remains, so the
three are always disjoint, and each depends only on the train rows, its fraction and its seed.
"""

from __future__ import annotations

import random

from fteval.data.datasets import Rows, load_rows
from fteval.spec.model import Source, Splits

__all__ = ["carved_indexes", "load_split"]


def carved_indexes(n: int, splits: Splits) -> dict[str, list[int]]:
    """Indexes of train rows each carved split takes, by split name (sorted, disjoint)."""
    left = list(range(n))
    out: dict[str, list[int]] = {}
    for name in ("eval", "valid"):
        source: Source | None = getattr(splits, name)
        if source is None or source.from_ is None or source.fraction is None:
            continue
        take = max(1, round(source.fraction * n))
        order = list(left)
        random.Random(source.seed).shuffle(order)
        chosen = set(order[:take])
        out[name] = sorted(chosen)
        left = [i for i in left if i not in chosen]
    return out


def _select(rows: Rows, source: Source) -> Rows:
    """A source's own shuffle and limit over the rows it got."""
    if source.shuffle:
        random.Random(source.seed).shuffle(rows)
    return Rows(rows[: source.limit], rows.skipped, rows.skip_reasons) if source.limit else rows


def load_split(splits: Splits, name: str) -> Rows | None:
    """The rows of split ``name`` (None when the spec has no such split).

    Raises:
        DatasetError: a file is missing or malformed (see ``fteval.data.datasets.load_rows``).
    """
    source: Source | None = getattr(splits, name)
    if source is None:
        return None
    carving = any(s is not None and s.from_ is not None for s in (splits.valid, splits.eval))
    if source.from_ is None and not (name == "train" and carving):
        return load_rows(source)
    train = splits.train
    assert train is not None  # Splits validates that a carved split has a train split
    rows = load_rows(train.model_copy(update={"shuffle": False, "limit": None}))
    carved = carved_indexes(len(rows), splits)
    if name == "train":
        taken = {i for indexes in carved.values() for i in indexes}
        kept = Rows((r for i, r in enumerate(rows) if i not in taken), rows.skipped, rows.skip_reasons)
        return _select(kept, train)
    return _select(Rows((rows[i] for i in carved[name]), 0), source)
