"""Classification metrics: macro F1 (a metric), and per-class precision / recall / F1 with a confusion matrix.

Each example's score stores its gold and predicted label in ``Score.parts`` as ``{"gold:<label>": 1,
"pred:<label>": 1}`` (an unparsed output is the label ``UNPARSED``), so a report or ``fteval show``
rebuilds every table below from the stored scores alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fteval.analysis.stats import bootstrap_interval
from fteval.plugin import Aggregate, Metric, Score, ScoreItem

UNPARSED = "(unparsed)"


def label_text(value: Any) -> str:
    """A parsed label as text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def labels_of(parts: Mapping[str, float]) -> tuple[str | None, str | None]:
    """(gold, predicted) label stored in one score's ``parts``; None where absent."""
    gold = next((k[5:] for k in parts if k.startswith("gold:")), None)
    pred = next((k[5:] for k in parts if k.startswith("pred:")), None)
    return gold, pred


@dataclass(frozen=True)
class ClassRow:
    """One class: its precision, recall, F1 and support (gold count)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassReport:
    """Per-class rows, macro F1, and the confusion matrix (``matrix[gold][pred]`` = count)."""

    rows: list[ClassRow]
    macro_f1: float
    labels: list[str]
    predicted: list[str]
    matrix: dict[str, dict[str, int]]


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def class_report(parts: Sequence[Mapping[str, float]], order: Sequence[str] = ()) -> ClassReport | None:
    """Per-class metrics and confusion matrix from stored score parts; None when they hold no labels.

    ``order`` lists labels to put first (a parser's labels, in the spec's order); the rest are sorted.

    Classes are the gold labels and the predicted ones (as in scikit-learn); an unparsed output
    counts against its gold class's recall and is a column of the matrix, not a class.
    """
    pairs = [(g, p if p is not None else UNPARSED) for g, p in map(labels_of, parts) if g is not None]
    if not pairs:
        return None
    gold_labels = sorted({g for g, _ in pairs})
    present = {*gold_labels, *(p for _, p in pairs if p != UNPARSED)}
    labels = [label for label in dict.fromkeys(order) if label in present] + sorted(present - set(order))
    predicted = labels + ([UNPARSED] if any(p == UNPARSED for _, p in pairs) else [])
    matrix = {g: dict.fromkeys(predicted, 0) for g in labels}
    for g, p in pairs:
        matrix[g][p] += 1
    rows = []
    for label in labels:
        tp = matrix[label][label]
        fp = sum(matrix[g][label] for g in labels if g != label)
        support = sum(matrix[label].values())
        rows.append(ClassRow(label, *_prf(tp, fp, support - tp), support))
    macro = float(np.mean([r.f1 for r in rows]))
    return ClassReport(rows, macro, labels, predicted, matrix)


def _macro_f1(gold: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Macro F1 over classes 0..k-1 present in gold or pred of this sample (k = the unparsed code)."""
    counts = np.bincount(gold * (k + 1) + pred, minlength=k * (k + 1)).reshape(k, k + 1)
    tp = np.diag(counts[:, :k]).astype(float)
    support = counts.sum(axis=1)
    predicted = counts[:, :k].sum(axis=0)
    present = (support + predicted) > 0
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(k), where=total > 0)
    return float(f1[present].mean()) if present.any() else 0.0


class MacroF1(Metric):
    """Macro-averaged F1 over the classes; per example: 1 when the predicted label is the gold one.

    The aggregate is recomputed from every example's gold and predicted label (stored in the
    score's ``parts``), with an example-level bootstrap CI. ``fteval show`` prints the per-class
    precision, recall, F1 and the confusion matrix from the same parts.
    """

    def score(self, item: ScoreItem) -> Score:
        if not item.gold.ok:
            return Score(0.0, detail=f"gold failed to parse: {item.gold.error}")
        gold = label_text(item.gold.value)
        pred = label_text(item.pred.value) if item.pred.ok else UNPARSED
        detail = None if item.pred.ok else f"parse failure: {item.pred.error}"
        return Score(float(gold == pred), detail=detail, parts={f"gold:{gold}": 1.0, f"pred:{pred}": 1.0})

    def aggregate(self, scores: Sequence[Score], seed: int = 0) -> Aggregate:
        report = class_report([s.parts for s in scores])
        if report is None:
            return Aggregate(0.0, 0.0, 1.0, 0, "none")
        code = {label: i for i, label in enumerate(report.labels)}
        pairs = [labels_of(s.parts) for s in scores]
        k = len(report.labels)
        gold = np.array([code[g] for g, _ in pairs if g is not None])
        pred = np.array([code.get(p or UNPARSED, k) for g, p in pairs if g is not None])
        low, high = bootstrap_interval(len(gold), lambda idx: _macro_f1(gold[idx], pred[idx], k), seed=seed)
        return Aggregate(report.macro_f1, low, high, len(gold), "bootstrap")
