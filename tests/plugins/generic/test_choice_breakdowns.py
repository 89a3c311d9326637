"""The choice parser's breakdowns: per-class P/R/F1, confusion matrix, label distribution."""

from __future__ import annotations

import pytest
from fteval_generic.parsers import ChoiceConfig, ChoiceParser

from fteval.plugin import Outcome, Parsed

GOLD = ["yes", "yes", "no", "no", "no"]
OUT = ["yes", "no", "no", "maybe", "Yes."]


def _breakdowns() -> dict[str, object]:
    parser = ChoiceParser(ChoiceConfig(labels=["yes", "no"]))
    outcomes = [Outcome(i, g, o, parser.parse(o)) for i, (g, o) in enumerate(zip(GOLD, OUT, strict=True))]
    return {b.title: b for b in parser.breakdowns(outcomes)}


def test_per_class_precision_recall_f1_by_hand() -> None:
    per_class = _breakdowns()["Per class"]
    rows = {r[0]: r for r in per_class.rows}
    # yes: gold 2, predicted 2 (idx 0, 4), right 1 -> P 1/2, R 1/2, F1 1/2
    assert rows["yes"][1:] == (2, 2, 0.5, 0.5, 0.5)
    # no: gold 3, predicted 2 (idx 1, 2), right 1 (idx 2) -> P 1/2, R 1/3, F1 2/5
    assert rows["no"][1:3] == (3, 2) and rows["no"][3:5] == (0.5, pytest.approx(1 / 3))
    assert rows["no"][5] == pytest.approx(0.4)
    assert per_class.facet == "class" and per_class.groups[3] == ("no",)


def test_confusion_matrix_counts_unparsed_outputs_in_their_own_column() -> None:
    matrix = _breakdowns()["Confusion matrix"]
    assert matrix.columns == ("gold \\ predicted", "yes", "no", "(unparsed)")
    assert matrix.rows == (("yes", 1, 1, 0), ("no", 1, 1, 1))
    assert matrix.plot == "matrix"


def test_label_distribution_of_gold_and_predictions() -> None:
    dist = {r[0]: r for r in _breakdowns()["Label distribution"].rows}
    assert dist["yes"] == ("yes", 2, 0.4, 2, 0.4)
    assert dist["no"] == ("no", 3, 0.6, 2, 0.4)
    assert dist["(unparsed)"] == ("(unparsed)", 0, 0.0, 1, 0.2)


def test_a_class_never_predicted_has_no_precision_and_f1_zero() -> None:
    parser = ChoiceParser(ChoiceConfig(labels=["a", "b"]))
    outcomes = [Outcome(0, "a", "a", Parsed(True, "a")), Outcome(1, "b", "a", Parsed(True, "a"))]
    rows = {r[0]: r for r in parser.breakdowns(outcomes)[0].rows}
    assert rows["b"] == ("b", 1, 0, None, 0.0, 0.0)
