"""Whole-val-split sanity: gold vs gold is 100%, gold vs shuffled gold is near 0%, data is non-empty."""

from __future__ import annotations

import random
import time

from fteval_sql.coverage import informative_fraction
from fteval_sql.execution import ExecSettings
from fteval_sql.metrics import ExecutionAccuracy, NormalizedMatch, ValidSqlRate


def _shuffled(rows):
    answers = [r["answer"] for r in rows]
    random.Random(0).shuffle(answers)
    return answers


def test_execution_accuracy_gold_vs_gold_and_shuffled(val_rows, make_item) -> None:
    start = time.perf_counter()
    metric = ExecutionAccuracy()  # the process pool, as in a real run
    try:
        same = metric.score_many([make_item(r, r["answer"], i) for i, r in enumerate(val_rows)])
        mixed = metric.score_many(
            [make_item(r, a, i) for i, (r, a) in enumerate(zip(val_rows, _shuffled(val_rows), strict=False))]
        )
    finally:
        metric.close()
    assert [s.detail for s in same if s.value != 1.0] == []
    assert metric.aggregate(same).value == 1.0
    assert metric.aggregate(mixed).value <= 0.02
    assert time.perf_counter() - start < 60


def test_normalized_match_and_validity_gold_vs_gold_and_shuffled(val_rows, make_item) -> None:
    same = [make_item(r, r["answer"], i) for i, r in enumerate(val_rows)]
    mixed = [make_item(r, a, i) for i, (r, a) in enumerate(zip(val_rows, _shuffled(val_rows), strict=False))]
    nm = NormalizedMatch()
    assert nm.aggregate(nm.score_many(same)).value == 1.0
    assert nm.aggregate(nm.score_many(mixed)).value <= 0.02
    valid = ValidSqlRate()
    assert valid.aggregate(valid.score_many(same)).value == 1.0


def test_gold_queries_return_non_empty_results(val_rows) -> None:
    report = informative_fraction(val_rows, ExecSettings())
    assert report.n == len(val_rows) == 568
    assert report.any_db >= 0.95
    assert report.mean_db >= 0.5
