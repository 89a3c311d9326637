"""ViGGO breakdowns for ``fteval show`` and reports: accuracy per dialogue function and F1 per slot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fteval.plugin import Breakdown, Outcome, Parsed
from fteval_viggo.metrics import slot_pairs

UNPARSED = "(gold not parsed)"


def _mr(parsed: Parsed) -> Mapping[str, Any] | None:
    value = parsed.value
    ok = parsed.ok and isinstance(value, Mapping)
    return value if ok and isinstance(value.get("slots"), Mapping) else None


def _f1(tp: int, fp: int, fn: int) -> float | None:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


def viggo_breakdowns(outcomes: Sequence[Outcome], parse: Callable[[str], Parsed]) -> list[Breakdown]:
    """Exact match, function accuracy and slot F1 per gold function; precision, recall and F1 per slot.

    Args:
        outcomes: The run's evaluated examples.
        parse: The ``viggo`` parser, applied to the gold text.

    Returns:
        Two breakdowns; they filter the example browser by gold function and by gold slot.
    """
    per_function: dict[str, Counter[str]] = {}
    per_slot: dict[str, Counter[str]] = {}
    function_of: dict[int, tuple[str, ...]] = {}
    slots_of: dict[int, tuple[str, ...]] = {}
    for o in outcomes:
        gold, pred = _mr(parse(o.gold)), _mr(o.pred)
        name = str(gold["function"]) if gold is not None else UNPARSED
        function_of[o.index] = (name,)
        counts = per_function.setdefault(name, Counter())
        counts["n"] += 1
        if gold is None:
            continue
        gold_pairs = slot_pairs(gold)
        pred_pairs = slot_pairs(pred) if pred is not None else set()
        counts["exact"] += pred == gold
        counts["function"] += pred is not None and pred["function"] == gold["function"]
        counts["tp"] += len(gold_pairs & pred_pairs)
        counts["fp"] += len(pred_pairs - gold_pairs)
        counts["fn"] += len(gold_pairs - pred_pairs)
        slots_of[o.index] = tuple(sorted(gold["slots"]))
        for slot, _ in gold_pairs | pred_pairs:
            per_slot.setdefault(slot, Counter())
        for slot, _ in gold_pairs & pred_pairs:
            per_slot[slot]["tp"] += 1
        for slot, _ in pred_pairs - gold_pairs:
            per_slot[slot]["fp"] += 1
        for slot, _ in gold_pairs - pred_pairs:
            per_slot[slot]["fn"] += 1
        for slot in gold["slots"]:
            per_slot[slot]["examples"] += 1
    function_rows = tuple(
        (
            name,
            c["n"],
            c["exact"] / c["n"],
            c["function"] / c["n"],
            _f1(c["tp"], c["fp"], c["fn"]),
        )
        for name, c in sorted(per_function.items(), key=lambda kv: (-kv[1]["n"], kv[0]))
    )
    slot_rows = []
    for slot, c in sorted(per_slot.items(), key=lambda kv: (-(kv[1]["tp"] + kv[1]["fn"]), kv[0])):
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        slot_rows.append(
            (slot, c["examples"], tp + fn, tp / (tp + fp) if tp + fp else None, tp / (tp + fn) if tp + fn else None)
            + (_f1(tp, fp, fn),)
        )
    return [
        Breakdown(
            title="Accuracy per function",
            columns=("function", "n", "exact match", "function accuracy", "slot F1"),
            rows=function_rows,
            plot="bars",
            plot_columns=("exact match", "function accuracy", "slot F1"),
            facet="function",
            groups=function_of,
            note="grouped by the gold dialogue act; slot F1 is micro over the group's (slot, value) pairs",
        ),
        Breakdown(
            title="F1 per slot",
            columns=("slot", "examples", "gold pairs", "precision", "recall", "F1"),
            rows=tuple(slot_rows),
            plot="bars",
            plot_columns=("F1",),
            facet="slot",
            groups=slots_of,
            note="micro over the (slot, value) pairs of each slot; an unparsed output predicts no pairs",
        ),
    ]
