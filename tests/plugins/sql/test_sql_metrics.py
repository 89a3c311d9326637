"""Metric behaviour: reasons on failure, parse failures, configs, the pool, the memory cap."""

from __future__ import annotations

import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from fteval_sql.metrics import ExecutionAccuracy, NormalizedMatch, ValidSqlRate

from fteval.plugin import Metric, Parser

pytestmark = pytest.mark.fast

ROW = {
    "context": "CREATE TABLE singer (name VARCHAR, country VARCHAR, age INTEGER)",
    "answer": "SELECT name FROM singer WHERE country = 'France'",
}
RUNAWAY = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"


@pytest.fixture(scope="module")
def local() -> ExecutionAccuracy:
    metric = ExecutionAccuracy(ExecutionAccuracy.Config(processes=0, timeout_s=0.3))
    yield metric
    metric.close()


@pytest.mark.parametrize(
    "pred, value, detail",
    [
        ("SELECT name FROM singer WHERE country = 'France'", 1.0, None),
        ("SELECT name FROM singer WHERE country = 'france'", 0.0, "result mismatch on db"),
        (RUNAWAY, 0.0, "timeout"),
        ("SELECT load_extension('x')", 0.0, "not authorized"),
        ("DELETE FROM singer", 0.0, "not authorized"),
        ("SELECT nme FROM singer", 0.0, "sql error: no such column"),
        ("", 0.0, "prediction not parsed"),
    ],
)
def test_scores_and_reasons(local, make_item, pred: str, value: float, detail: str | None) -> None:
    score = local.score(make_item(ROW, pred))
    assert score.value == value
    assert (score.detail is None) if detail is None else score.detail.startswith(detail)


def test_missing_schema_column_scores_zero(local, make_item) -> None:
    score = local.score(make_item({"answer": ROW["answer"]}, ROW["answer"]))
    assert score.value == 0.0 and "no schema" in score.detail


def test_a_hostile_query_does_not_stop_the_batch_in_the_pool(make_item) -> None:
    metric = ExecutionAccuracy(ExecutionAccuracy.Config(processes=2, timeout_s=0.3, memory_mb=64))
    try:
        hog = (
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION SELECT x + 1 FROM r) "
            "SELECT group_concat(x || printf('%.500c', 'y')) FROM r"
        )
        items = [make_item(ROW, q, i) for i, q in enumerate([RUNAWAY, hog, ROW["answer"], "ATTACH 'a.db' AS a"])]
        scores = metric.score_many(items)
    finally:
        metric.close()
    assert [s.value for s in scores] == [0.0, 0.0, 1.0, 0.0]
    assert scores[0].detail == "timeout"
    assert scores[1].detail.startswith(("timeout", "memory cap", "sql error"))
    assert scores[3].detail.startswith("not authorized")


def test_pool_and_in_process_scores_agree(make_item, val_rows) -> None:
    items = [make_item(r, val_rows[(i * 7) % 60]["answer"], i) for i, r in enumerate(val_rows[:60])]
    pooled = ExecutionAccuracy(ExecutionAccuracy.Config(processes=2))
    try:
        a = pooled.score_many(items)
    finally:
        pooled.close()
    b = ExecutionAccuracy(ExecutionAccuracy.Config(processes=0)).score_many(items)
    assert a == b
    assert 0 < sum(s.value for s in a) < len(a)


def test_config_defaults() -> None:
    c = ExecutionAccuracy.Config()
    assert c.databases >= 5 and c.schema_column == "context" and c.timeout_s == 1.0
    with pytest.raises(ValueError):
        ExecutionAccuracy.Config(databases=0)
    with pytest.raises(ValueError):
        ExecutionAccuracy.Config(unknown=1)


def test_normalized_match_and_valid_sql(make_item) -> None:
    nm, valid = NormalizedMatch(), ValidSqlRate()
    good = make_item(ROW, 'select NAME from singer where country = "France";')
    assert nm.score(good).value == 1.0 and valid.score(good).value == 1.0
    quoted = make_item(ROW, "SELECT [name] FROM \"singer\" WHERE `country` = 'France'")
    assert nm.score(quoted).value == 1.0
    assert nm.score(make_item(ROW, "SELECT 'name' FROM singer WHERE country = 'France'")).value == 0.0
    unknown_column = make_item(ROW, "SELECT nme FROM singer")
    assert valid.score(unknown_column).value == 0.0
    assert nm.score(make_item(ROW, "SELECT count(* FROM singer")).value == 0.0
    assert valid.score(make_item(ROW, "DELETE FROM singer")).value == 0.0
    no_schema = make_item({"answer": ROW["answer"]}, "SELECT a FROM t")
    assert valid.score(no_schema).value == 1.0
    assert valid.score(make_item({"answer": ROW["answer"]}, "SELEC a")).value == 0.0


def test_entry_points_resolve_to_these_classes() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    entries = pyproject["project"]["entry-points"]["fteval.plugins"]
    ours = {k: v for k, v in entries.items() if v.startswith("fteval_sql.")}
    assert set(ours) == {"parser.sql", "metric.normalized_match", "metric.execution_accuracy", "metric.valid_sql_rate"}
    for name, target in ours.items():
        module, cls = target.split(":")
        obj = getattr(import_module(module), cls)
        assert issubclass(obj, Parser if name.startswith("parser.") else Metric)
