"""Execution accuracy for one (schema, gold, prediction): generated databases, cached per schema."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fteval_sql.analysis import GoldProfile, profile_query
from fteval_sql.compare import results_match
from fteval_sql.datagen import generate
from fteval_sql.sandbox import Limits, QueryError, build_database, run_query
from fteval_sql.schema import Schema, SchemaError, parse_schema

Result = tuple[list[tuple[Any, ...]], int] | QueryError  # (rows, number of columns) or the failure


@dataclass(frozen=True)
class ExecSettings:
    """What fixes the generated databases and the caps on each query."""

    databases: int = 5
    seed: int = 0
    limits: Limits = Limits()


@dataclass
class DatabaseSet:
    """The K sandboxed databases of one (schema, gold profile), with gold results memoised."""

    profile: GoldProfile
    connections: list[sqlite3.Connection]
    gold_results: dict[str, list[Result | None]] = field(default_factory=dict)

    def close(self) -> None:
        """Close every connection."""
        for conn in self.connections:
            conn.close()


def prepare(context: str, gold: str) -> tuple[Schema, GoldProfile]:
    """The schema the gold runs on (context plus any column the gold needs) and the gold's profile.

    Raises:
        SchemaError: when the context holds no CREATE TABLE.
    """
    schema = parse_schema(context)
    profile = profile_query(gold, schema)
    if profile.missing or profile.missing_tables:
        extra: dict[str, tuple[str, ...]] = {t: () for t in profile.missing_tables}
        for table, column in profile.missing:
            extra[table] = extra.get(table, ()) + (column,)
        schema = schema.with_columns(extra)
    return schema, profile


class Executor:
    """Builds, caches and queries generated databases; one per process."""

    def __init__(self, settings: ExecSettings, cache_size: int = 1024) -> None:
        self.settings = settings
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[Schema, GoldProfile], DatabaseSet] = OrderedDict()

    def databases(self, context: str, gold: str) -> DatabaseSet:
        """The cached database set for this schema and gold profile, built on first use."""
        schema, profile = prepare(context, gold)
        key = (schema, profile)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        contents = generate(schema, profile, self.settings.databases, self.settings.seed)
        ddl = schema.ddl()
        dbset = DatabaseSet(profile, [build_database(ddl, rows, self.settings.limits) for rows in contents])
        self._cache[key] = dbset
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)[1].close()
        return dbset

    def gold_result(self, dbset: DatabaseSet, gold: str, index: int) -> Result:
        """The gold query's result on database ``index`` (memoised)."""
        results = dbset.gold_results.setdefault(gold, [None] * len(dbset.connections))
        result = results[index]
        if result is None:
            result = results[index] = self._run(dbset.connections[index], gold)
        return result

    def evaluate(self, context: str, gold: str, pred: str) -> tuple[float, str | None]:
        """1.0 when ``pred`` returns the gold's result on every database, else 0.0 with the reason.

        Args:
            context: CREATE TABLE statements.
            gold: the gold query.
            pred: the predicted query (untrusted).

        Returns:
            (score, detail); detail is None on success.
        """
        try:
            dbset = self.databases(context, gold)
        except SchemaError as err:
            return 0.0, f"schema: {err}"
        for i, conn in enumerate(dbset.connections):
            expected = self.gold_result(dbset, gold, i)
            if isinstance(expected, QueryError):
                return 0.0, f"gold query failed on db {i}: {expected}"
            got = self._run(conn, pred)
            if isinstance(got, QueryError):
                return 0.0, str(got)
            if not results_match(expected[0], got[0], expected[1], got[1], dbset.profile.ordered):
                return 0.0, f"result mismatch on db {i}"
        return 1.0, None

    def gold_informative(self, context: str, gold: str) -> list[bool]:
        """Per database, whether the gold returns a row with a value other than NULL or 0."""
        dbset = self.databases(context, gold)
        out = []
        for i in range(len(dbset.connections)):
            result = self.gold_result(dbset, gold, i)
            out.append(not isinstance(result, QueryError) and _informative(result[0]))
        return out

    def compiles(self, context: str, gold: str, pred: str) -> tuple[bool, str | None]:
        """Whether SQLite accepts ``pred`` as a read-only query on the schema (nothing is run)."""
        try:
            dbset = self.databases(context, gold)
        except SchemaError as err:
            return False, f"schema: {err}"
        try:
            run_query(dbset.connections[0], pred, self.settings.limits, explain=True)
        except QueryError as err:
            return False, str(err)
        return True, None

    def close(self) -> None:
        """Close every cached database."""
        while self._cache:
            self._cache.popitem()[1].close()

    def _run(self, conn: sqlite3.Connection, sql: str) -> Result:
        try:
            return run_query(conn, sql, self.settings.limits)
        except QueryError as err:
            return err


def _informative(rows: Sequence[tuple[Any, ...]]) -> bool:
    return any(v is not None and v != 0 for row in rows for v in row)
