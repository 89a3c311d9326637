"""The sandbox: hostile or runaway queries are refused or stopped, never escape, never crash."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from fteval_sql.sandbox import Limits, QueryError, build_database, run_query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DDL = ['CREATE TABLE singer ("name" VARCHAR, "age" INTEGER)', 'CREATE TABLE concert ("singer" VARCHAR)']
ROWS = {"singer": [(f"s{i}", i) for i in range(30)], "concert": [(f"s{i}",) for i in range(30)]}
LIMITS = Limits(timeout_s=0.3, max_rows=1000)


@pytest.fixture
def conn():
    c = build_database(DDL, ROWS, LIMITS)
    yield c
    c.close()


def reason(conn, sql: str) -> str:
    with pytest.raises(QueryError) as info:
        run_query(conn, sql, LIMITS)
    return str(info.value)


def contents(conn) -> list:
    return run_query(conn, "SELECT * FROM singer", LIMITS)[0] + run_query(conn, "SELECT * FROM concert", LIMITS)[0]


def test_plain_select_works(conn) -> None:
    rows, width = run_query(conn, "SELECT name, age FROM singer WHERE age < 2 ORDER BY age", LIMITS)
    assert rows == [("s0", 0), ("s1", 1)] and width == 2


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO singer VALUES ('x', 1)",
        "UPDATE singer SET age = 0",
        "DELETE FROM singer",
        "DROP TABLE singer",
        "CREATE TABLE t (a)",
        "CREATE TEMP TABLE t (a)",
        "PRAGMA query_only = 0",
        "PRAGMA table_info(singer)",
        "SELECT * FROM pragma_table_info('singer')",
        "SELECT sql FROM sqlite_master",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT randomblob(10)",
        "SELECT zeroblob(1000000000)",
        "VACUUM",
        "ANALYZE",
        "BEGIN",
        "REINDEX",
        "SELECT * FROM dbstat",
    ],
)
def test_writes_pragmas_and_unlisted_functions_are_refused(conn, sql: str) -> None:
    before = contents(conn)
    assert reason(conn, sql)
    assert contents(conn) == before


def test_attach_of_a_file_path_creates_nothing(conn, tmp_path: Path) -> None:
    target = tmp_path / "escape.db"
    assert reason(conn, f"ATTACH DATABASE '{target}' AS x").startswith("not authorized")
    assert reason(conn, f"SELECT * FROM singer; ATTACH '{target}' AS y") == "more than one statement"
    assert not target.exists() and not os.listdir(tmp_path)


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE '{path}' AS x",
        "INSERT INTO singer VALUES ('x', 1)",
        "PRAGMA query_only = 0",
        "CREATE TABLE t (a)",
        "SELECT load_extension('{path}')",
        "SELECT * FROM sqlite_master",
    ],
)
def test_the_connection_itself_refuses_without_the_keyword_check(conn, tmp_path: Path, sql: str) -> None:
    """Defence in depth: the authorizer alone stops these, not only run_query's first-word check."""
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        conn.execute(sql.replace("{path}", str(tmp_path / "x.db")))
    assert not os.listdir(tmp_path)


def test_recursive_cte_runaway_times_out(conn) -> None:
    start = time.perf_counter()
    sql = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"
    assert reason(conn, sql) == "timeout"
    assert time.perf_counter() - start < LIMITS.timeout_s + 1.0


def test_huge_cross_join_times_out_or_hits_the_row_cap(conn) -> None:
    assert reason(conn, "SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e, singer f") == "timeout"
    assert reason(conn, "SELECT * FROM singer a, singer b, singer c").startswith("row cap")


def test_value_length_is_capped(conn) -> None:
    sql = "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r"
    assert reason(conn, sql).startswith(("memory cap", "sql error", "timeout"))
    try:
        rows, _ = run_query(conn, "SELECT printf('%.*c', 100000000, 'x')", LIMITS)
    except QueryError:
        return
    assert rows[0][0] is None or len(rows[0][0]) <= LIMITS.max_value_bytes


@st.composite
def hostile(draw) -> str:
    """SELECT-shaped attacks mixed with write/attach/pragma attempts and junk."""
    head = draw(
        st.sampled_from(
            [
                "SELECT * FROM singer",
                "SELECT count(*) FROM singer a, singer b, singer c, singer d",
                "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM r) SELECT max(x) FROM r",
                "ATTACH '{path}' AS a",
                "INSERT INTO singer VALUES (1, 2)",
                "PRAGMA writable_schema = 1",
                "SELECT load_extension('{path}')",
                "DELETE FROM concert",
                "SELECT group_concat(name) FROM singer",
                "SELECT * FROM singer WHERE name LIKE '%' || (SELECT name FROM concert)",
                "CREATE TABLE x AS SELECT * FROM singer",
                "SELECT replace(hex(1), '1', name) FROM singer",
            ]
        )
    )
    tail = draw(st.sampled_from(["", ";", "; DROP TABLE singer", " UNION ALL SELECT 1, 2", " --", "'"]))
    junk = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
    return head + tail + draw(st.sampled_from(["", " " + junk]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=hostile())
def test_fuzzed_hostile_queries_never_escape(conn, tmp_path: Path, sql: str) -> None:
    sql = sql.replace("{path}", str(tmp_path / "f.db"))
    before = contents(conn)
    start = time.perf_counter()
    try:
        rows, _ = run_query(conn, sql, LIMITS)
        assert len(rows) <= LIMITS.max_rows
    except QueryError as err:
        assert str(err)
    assert time.perf_counter() - start < LIMITS.timeout_s + 1.5
    assert contents(conn) == before
    assert not (tmp_path / "f.db").exists()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=st.text(max_size=80))
def test_arbitrary_text_never_raises_anything_but_query_error(conn, sql: str) -> None:
    try:
        run_query(conn, sql, LIMITS)
    except QueryError:
        pass
