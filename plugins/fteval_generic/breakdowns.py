"""Classification breakdowns for the ``choice`` parser: per-class P/R/F1, confusion matrix, label distribution."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from fteval.plugin import Breakdown, Outcome, Parsed

NO_PARSE = "(no parse)"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(tp: int, n_gold: int, n_pred: int) -> float | None:
    """2 tp / (gold + predicted): 0 for a class never found or never right, None when it never occurs."""
    return 2 * tp / (n_gold + n_pred) if n_gold + n_pred else None


def classification_breakdowns(
    labels: Sequence[str], outcomes: Sequence[Outcome], parse: Callable[[str], Parsed]
) -> list[Breakdown]:
    """Per-class precision/recall/F1, the confusion matrix and the gold/predicted label distribution.

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
        gold[o.index] = str(g.value) if g.ok else NO_PARSE
        pred[o.index] = str(o.pred.value) if o.pred.ok else NO_PARSE
    classes = list(labels) + sorted({*gold.values(), *pred.values()} - {*labels, NO_PARSE})
    pairs = Counter((gold[i], pred[i]) for i in gold)
    n_gold, n_pred = Counter(gold.values()), Counter(pred.values())
    per_class = []
    for c in classes:
        tp = pairs[(c, c)]
        precision, recall = _ratio(tp, n_pred[c]), _ratio(tp, n_gold[c])
        per_class.append((c, n_gold[c], n_pred[c], precision, recall, _f1(tp, n_gold[c], n_pred[c])))
    predicted = classes + ([NO_PARSE] if n_pred[NO_PARSE] else [])
    gold_rows = classes + ([NO_PARSE] if n_gold[NO_PARSE] else [])
    matrix = tuple((g, *(pairs[(g, p)] for p in predicted)) for g in gold_rows)
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
