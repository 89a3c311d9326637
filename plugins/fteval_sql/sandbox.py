"""A read-only SQLite sandbox for untrusted queries: authorizer, allow-lists, time, row and size caps.

Layers, each enough on its own for its threat:
- ``PRAGMA query_only`` plus an authorizer that allows only SELECT, column reads of the
  generated tables, recursive CTEs and allow-listed deterministic functions; ATTACH, PRAGMA,
  writes, DDL, ``load_extension``, ``sqlite_master`` and virtual tables are denied at prepare time.
- Only statements that start with SELECT, WITH or VALUES are run; ``sqlite3`` refuses more
  than one statement per ``execute``.
- A progress handler aborts a query once its wall-clock deadline has passed.
- Connection limits cap string/blob length, SQL length, compound SELECTs and ATTACHed databases;
  ``fetchmany`` caps rows; ``set_memory_cap`` sets SQLite's process-wide heap limit (called in
  the pool's worker processes).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ALLOWED_FUNCTIONS = frozenset(
    """
    abs avg count max min sum total group_concat length octet_length lower upper substr substring
    trim ltrim rtrim replace round coalesce ifnull nullif iif instr like glob typeof date time
    datetime julianday unixepoch strftime printf format char unicode hex quote sign ceil ceiling
    floor trunc exp ln log log10 log2 pow power sqrt mod pi
    """.split()
)
QUERY_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES"})
_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE})
PROGRESS_EVERY = 1000  # SQLite VM instructions between deadline checks


class QueryError(Exception):
    """A query was refused or stopped; ``str(err)`` is the short reason shown to users."""


@dataclass(frozen=True)
class Limits:
    """Caps applied to every sandboxed query."""

    timeout_s: float = 1.0
    max_rows: int = 10_000
    max_value_bytes: int = 1_000_000
    max_sql_bytes: int = 100_000


def set_memory_cap(nbytes: int) -> None:
    """Cap SQLite's heap for the whole process (hard limit; allocations past it fail)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute(f"PRAGMA hard_heap_limit={int(nbytes)}")
    finally:
        probe.close()


def build_database(ddl: Sequence[str], tables: dict[str, list[tuple[Any, ...]]], limits: Limits) -> sqlite3.Connection:
    """An in-memory database with ``ddl`` and rows, then locked down for untrusted reads.

    Args:
        ddl: CREATE TABLE statements.
        tables: table name -> rows (column order of the DDL).
        limits: the caps to install.

    Returns:
        The sandboxed connection.
    """
    # small pages and statement cache: a worker keeps hundreds of these databases (~15 KB each)
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, cached_statements=8)
    conn.execute("PRAGMA page_size = 1024")
    for stmt in ddl:
        conn.execute(stmt)
    conn.execute("BEGIN")
    for name, rows in tables.items():
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f'INSERT INTO "{name.replace(chr(34), chr(34) * 2)}" VALUES ({marks})', rows)
    conn.execute("COMMIT")
    lock_down(conn, tables.keys(), limits)
    return conn


def lock_down(conn: sqlite3.Connection, readable: Iterable[str], limits: Limits) -> None:
    """Make ``conn`` read-only and install the authorizer and size limits."""
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, limits.max_sql_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 64)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000)
    allowed_tables = frozenset(name.lower() for name in readable)

    def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, _src: str | None) -> int:
        if action in _ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # db is None for a CTE; real tables must be the generated ones in "main"
            if db is None or (db == "main" and (arg1 or "").lower() in allowed_tables):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in ALLOWED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    conn.set_authorizer(authorize)


def run_query(
    conn: sqlite3.Connection, sql: str, limits: Limits, explain: bool = False
) -> tuple[list[tuple[Any, ...]], int]:
    """Run one untrusted statement on a locked-down connection.

    Args:
        conn: a connection from ``build_database``.
        sql: the statement; it must be a query (SELECT, WITH or VALUES).
        limits: time and row caps.
        explain: compile only (run ``EXPLAIN sql``), to check validity without executing.

    Returns:
        The rows (at most ``limits.max_rows``) and the number of result columns.

    Raises:
        QueryError: with a short reason ("timeout", "not authorized", "row cap", ...).
    """
    if len(sql.encode("utf-8", "replace")) > limits.max_sql_bytes:
        raise QueryError("sql too long")
    if first_keyword(sql) not in QUERY_KEYWORDS:
        raise QueryError("not authorized: only queries may run")
    if explain:
        sql = "EXPLAIN " + sql
    deadline = time.perf_counter() + limits.timeout_s
    conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, PROGRESS_EVERY)
    cursor = None
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchmany(limits.max_rows + 1)
        width = len(cursor.description or ())
    except MemoryError:
        raise QueryError("memory cap") from None
    except sqlite3.Error as err:
        raise QueryError(_reason(err)) from None
    except (ValueError, UnicodeError, OverflowError) as err:
        raise QueryError(f"sql error: {err}") from None
    finally:
        if cursor is not None:
            cursor.close()
        conn.set_progress_handler(None, 0)
    if len(rows) > limits.max_rows:
        raise QueryError(f"row cap ({limits.max_rows} rows)")
    return rows, width


def first_keyword(sql: str) -> str:
    """The first word of ``sql`` after blanks, comments and opening parentheses, upper-cased."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    j = i
    while j < n and (sql[j].isalnum() or sql[j] == "_"):
        j += 1
    return sql[i:j].upper()


def _reason(err: sqlite3.Error) -> str:
    text = str(err)
    low = text.lower()
    if "interrupted" in low:
        return "timeout"
    if "not authorized" in low or "prohibited" in low:
        return "not authorized"
    if "one statement" in low:
        return "more than one statement"
    if "out of memory" in low or "too big" in low:
        return f"memory cap: {text}"
    if "readonly" in low or "read-only" in low:
        return "not authorized"
    return f"sql error: {text}"
