"""A rating sheet: which outputs of one or two runs a rater sees, shuffled with a seed and blinded.

The sheet is stored (``fteval.ratings.storage``); the page and the CSV show only item and output
numbers, so which run wrote an output is known to the store, not to the rater.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fteval.errors import UsageError
from fteval.identity import canonical_hash
from fteval.storage.records import ExampleRecord, RunRecord

__all__ = ["DEFAULT_RUBRIC", "ItemView", "RatingSheet", "SheetItem", "build_sheet", "item_views", "parse_scale"]

DEFAULT_RUBRIC = (
    "Rate each output for how well it does the task asked in the input, using the reference as a guide to what "
    "a good answer contains (a good output may be worded differently).\n"
    "Lowest: wrong, unusable or empty. Highest: correct, complete and well written. Use the middle for partly right."
)


@dataclass(frozen=True)
class SheetItem:
    """One item of a sheet: an example, and the run behind each output slot (in the order shown)."""

    number: int
    idx: int
    runs: tuple[str, ...]


@dataclass(frozen=True)
class RatingSheet:
    """The identity and content of a rating task: runs, seed, scale, rubric and shuffled, blinded items."""

    id: str
    runs: tuple[str, ...]
    seed: int
    scale_min: int
    scale_max: int
    rubric: str
    items: tuple[SheetItem, ...]
    created_at: float

    def slot(self, number: int, output: int) -> tuple[int, str] | None:
        """(example index, run id) of item ``number``'s output ``output`` (both 1-based); None if absent."""
        if not 1 <= number <= len(self.items):
            return None
        item = self.items[number - 1]
        if not 1 <= output <= len(item.runs):
            return None
        return item.idx, item.runs[output - 1]


@dataclass(frozen=True)
class ItemView:
    """What a rater sees of one item: the input, the reference and the outputs, in the sheet's order."""

    number: int
    system: str | None
    user: str
    reference: str
    outputs: tuple[str, ...]


def parse_scale(text: str) -> tuple[int, int]:
    """``LOW-HIGH`` (e.g. ``1-5``, ``0-1`` for pass/fail) as two integers.

    Raises:
        UsageError: not two integers with LOW < HIGH and at most 11 levels.
    """
    low, sep, high = text.partition("-")
    try:
        lo, hi = int(low), int(high)
    except ValueError:
        lo = hi = 0
    if not sep or hi <= lo or hi - lo > 10:
        raise UsageError(f"--scale {text!r}: expected LOW-HIGH integers such as 1-5 or 0-1 (at most 11 levels)")
    return lo, hi


def _same_examples(runs: Sequence[RunRecord], examples: Sequence[list[ExampleRecord]]) -> list[int]:
    """Example indexes every run has, with equal prompt and gold.

    Raises:
        UsageError: the runs were evaluated on different examples.
    """
    keyed = [{e.idx: canonical_hash([e.prompt, e.gold]) for e in ex} for ex in examples]
    if len(keyed) == 2 and keyed[0] != keyed[1]:
        differ = sum(keyed[0].get(i) != keyed[1].get(i) for i in keyed[0].keys() | keyed[1].keys())
        raise UsageError(
            f"runs {runs[0].id} and {runs[1].id} were evaluated on different examples ({differ} differ in prompt "
            "or gold): a pair of runs is rated on the same examples"
        )
    return sorted(keyed[0])


def build_sheet(
    runs: Sequence[RunRecord],
    examples: Sequence[list[ExampleRecord]],
    *,
    seed: int = 0,
    limit: int | None = 30,
    scale: tuple[int, int] = (1, 5),
    rubric: str = DEFAULT_RUBRIC,
) -> RatingSheet:
    """A blinded sheet of ``limit`` examples drawn with ``seed``; with two runs each item shows both outputs.

    Args:
        runs: One run, or two runs evaluated on the same examples.
        examples: Each run's stored examples.
        seed: Seed of the draw, of the item order and of the output order within an item.
        limit: Items on the sheet (None: every example).
        scale: Lowest and highest rating.
        rubric: Instructions shown to the rater.

    Returns:
        The sheet; the same arguments give the same sheet (and id).

    Raises:
        UsageError: not one or two complete runs, or two runs on different examples.
    """
    if len(runs) not in (1, 2) or len({r.id for r in runs}) != len(runs):
        raise UsageError("rate one run, or a pair of different runs")
    for run in runs:
        if run.status != "complete":
            raise UsageError(f"run {run.id} is {run.status}, not complete: finish it first (the same command resumes)")
    rng = random.Random(seed)
    indexes = _same_examples(runs, examples)
    rng.shuffle(indexes)
    chosen = indexes[:limit] if limit is not None else indexes
    items = []
    for number, idx in enumerate(chosen, start=1):
        order = [r.id for r in runs]
        rng.shuffle(order)
        items.append(SheetItem(number, idx, tuple(order)))
    run_ids = tuple(r.id for r in runs)
    body = [run_ids, seed, list(scale), rubric, [[i.idx, list(i.runs)] for i in items]]
    return RatingSheet(canonical_hash(body)[:12], run_ids, seed, scale[0], scale[1], rubric, tuple(items), time.time())


def item_views(sheet: RatingSheet, examples: dict[str, list[ExampleRecord]]) -> list[ItemView]:
    """The rater's view of every item, from the runs' stored examples (``examples`` by run id)."""
    by_run = {run: {e.idx: e for e in ex} for run, ex in examples.items()}
    views = []
    for item in sheet.items:
        first = by_run[item.runs[0]][item.idx]
        outputs = tuple(by_run[run][item.idx].output for run in item.runs)
        views.append(
            ItemView(item.number, first.prompt.get("system"), first.prompt.get("user", ""), first.gold, outputs)
        )
    return views
