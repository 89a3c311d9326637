"""Classification breakdowns for the ``choice`` parser: per-class P/R/F1, confusion matrix, label distribution."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from fteval.plugin import Breakdown, Cell, Outcome, Parsed
from fteval_generic.classes import UNPARSED, class_report, label_text


def _or_none(value: float, denominator: int) -> float | None:
    """A rate, or None when it is undefined (no examples behind it)."""
    return value if denominator else None


def classification_breakdowns(
    labels: Sequence[str], outcomes: Sequence[Outcome], parse: Callable[[str], Parsed]
) -> list[Breakdown]:
    """Per-class precision/recall/F1, the confusion matrix and the gold/predicted label distribution.

    The counts and rates are ``fteval_generic.classes.class_report``'s, the same that ``macro_f1``
    aggregates, so the tables and the metric always agree.

    Args:
        labels: The allowed labels, in the spec's order.
        outcomes: The run's evaluated examples.
        parse: The parser, applied to the gold text (the store keeps gold as text).

    Returns:
        Three breakdowns; the per-class one filters the example browser by gold class.
    """
    gold: dict[int, str] = {}
    pred: dict[int, str] = {}
    for o in outcomes:
        g = parse(o.gold)
        gold[o.index] = label_text(g.value) if g.ok else UNPARSED
        pred[o.index] = label_text(o.pred.value) if o.pred.ok else UNPARSED
    report = class_report([{f"gold:{gold[i]}": 1.0, f"pred:{pred[i]}": 1.0} for i in gold], order=labels)
    if report is None:
        return []
    n_gold, n_pred = Counter(gold.values()), Counter(pred.values())
    per_class: list[tuple[Cell, ...]] = [
        (
            r.label,
            n_gold[r.label],
            n_pred[r.label],
            _or_none(r.precision, n_pred[r.label]),
            _or_none(r.recall, n_gold[r.label]),
            _or_none(r.f1, n_gold[r.label] + n_pred[r.label]),
        )
        for r in report.rows
    ]
    predicted = report.predicted
    matrix: tuple[tuple[Cell, ...], ...] = tuple((g, *(report.matrix[g][p] for p in predicted)) for g in report.labels)
    total = len(gold) or 1
    distribution = tuple((c, n_gold[c], n_gold[c] / total, n_pred[c], n_pred[c] / total) for c in predicted)
    return [
        Breakdown(
            title="Per class",
            columns=("class", "gold n", "predicted n", "precision", "recall", "F1"),
            rows=tuple(per_class),
            plot="bars",
            plot_columns=("precision", "recall", "F1"),
            facet="class",
            groups={i: (g,) for i, g in gold.items()},
            note="precision: share of predictions of the class that are right; recall: share of its gold examples found",
        ),
        Breakdown(
            title="Confusion matrix",
            columns=("gold \\ predicted", *predicted),
            rows=matrix,
            plot="matrix",
            note="rows: gold class; columns: predicted class",
        ),
        Breakdown(
            title="Label distribution",
            columns=("label", "gold n", "gold share", "predicted n", "predicted share"),
            rows=distribution,
            plot="bars",
            plot_columns=("gold share", "predicted share"),
        ),
    ]
