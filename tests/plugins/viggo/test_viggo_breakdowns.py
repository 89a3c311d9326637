"""The viggo parser's breakdowns: accuracy per gold function and F1 per slot, by hand."""

from __future__ import annotations

import pytest
from fteval_viggo.parser import ViggoParser

from fteval.plugin import Outcome

GOLD = [
    "inform(name[A], rating[good])",
    "inform(name[B], rating[poor])",
    "request(specifier[C])",
]
OUT = [
    "inform(rating[good], name[A])",  # exact (order-insensitive)
    "inform(name[B], rating[good])",  # function right, one slot wrong
    "request(specifier[C]",  # parse failure
]


def _breakdowns() -> dict[str, object]:
    parser = ViggoParser()
    outcomes = [Outcome(i, g, o, parser.parse(o)) for i, (g, o) in enumerate(zip(GOLD, OUT, strict=True))]
    return {b.title: b for b in parser.breakdowns(outcomes)}


def test_accuracy_per_function() -> None:
    table = _breakdowns()["Accuracy per function"]
    rows = {r[0]: r for r in table.rows}
    # inform: 2 examples, 1 exact, 2 right functions; pairs tp 3, fp 1, fn 1 -> F1 6/8
    assert rows["inform"] == ("inform", 2, 0.5, 1.0, 0.75)
    # request: unparsed output predicts nothing: tp 0, fn 1 -> F1 0
    assert rows["request"] == ("request", 1, 0.0, 0.0, 0.0)
    assert table.facet == "function" and table.groups == {0: ("inform",), 1: ("inform",), 2: ("request",)}


def test_f1_per_slot() -> None:
    rows = {r[0]: r for r in _breakdowns()["F1 per slot"].rows}
    assert rows["name"] == ("name", 2, 2, 1.0, 1.0, 1.0)
    # rating: gold good, poor; predicted good, good -> tp 1, fp 1 (good for B), fn 1 (poor)
    assert rows["rating"][1:5] == (2, 2, 0.5, 0.5) and rows["rating"][5] == pytest.approx(0.5)
    assert rows["specifier"] == ("specifier", 1, 1, None, 0.0, 0.0)
