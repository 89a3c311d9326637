"""The sql parser's breakdowns: accuracy by gold-query feature and outcomes by error kind."""

from __future__ import annotations

import pytest
from fteval_sql.breakdowns import query_features
from fteval_sql.parser import SqlParser

from fteval.plugin import Outcome, Parsed, Score


@pytest.mark.parametrize(
    ("sql", "features"),
    [
        ("SELECT name FROM head", ("1 table",)),
        ("SELECT COUNT(*) FROM head WHERE age > 56", ("aggregate", "1 table")),
        (
            "SELECT T1.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id GROUP BY T1.name ORDER BY COUNT(*) DESC",
            ("JOIN", "GROUP BY", "ORDER BY", "aggregate", "2 tables"),
        ),
        (
            "SELECT name FROM a WHERE id IN (SELECT id FROM b JOIN c ON b.x = c.x)",
            ("JOIN", "nested query", "3+ tables"),
        ),
    ],
)
def test_query_features(sql: str, features: tuple[str, ...]) -> None:
    assert query_features(sql) == features


def test_accuracy_by_feature_and_error_kinds() -> None:
    def outcome(i: int, gold: str, ok: bool, execution: Score, valid: float) -> Outcome:
        pred = Parsed(True, "SELECT 1") if ok else Parsed.fail("no SQL statement in the output")
        return Outcome(i, gold, "x", pred, {"execution_accuracy": execution, "valid_sql_rate": Score(valid)})

    outcomes = [
        outcome(0, "SELECT a FROM t", True, Score(1.0), 1.0),
        outcome(1, "SELECT COUNT(*) FROM t", True, Score(0.0, "result mismatch on db 0"), 1.0),
        outcome(2, "SELECT a FROM t JOIN u ON t.x = u.x", True, Score(0.0, "no such column: zz"), 0.0),
        outcome(3, "SELECT a FROM t", False, Score(0.0, "prediction not parsed: ..."), 0.0),
    ]
    by_feature, by_kind = SqlParser().breakdowns(outcomes)
    assert by_feature.columns == ("feature of the gold query", "n", "execution_accuracy")
    assert dict((r[0], r[1:]) for r in by_feature.rows) == {
        "JOIN": (1, 0.0),
        "aggregate": (1, 0.0),
        "1 table": (3, pytest.approx(1 / 3)),
        "2 tables": (1, 0.0),
    }
    assert by_kind.rows == (
        ("correct", 1, 0.25),
        ("parse failure", 1, 0.25),
        ("not executable", 1, 0.25),
        ("wrong result", 1, 0.25),
    )
    assert by_kind.groups[2] == ("not executable",) and by_feature.groups[2] == ("JOIN", "2 tables")
