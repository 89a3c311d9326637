"""Table schemas read from a row's CREATE TABLE statements (the ``context`` column)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp

NUMERIC_TYPE_WORDS = ("INT", "REAL", "FLOA", "DOUB", "NUM", "DEC", "BOOL")


class SchemaError(ValueError):
    """The schema text holds no usable CREATE TABLE statement."""


@dataclass(frozen=True)
class Column:
    """One column: its name as written and its declared type."""

    name: str
    type: str

    @property
    def numeric(self) -> bool:
        """Whether SQLite gives the column a numeric affinity."""
        upper = self.type.upper()
        return any(word in upper for word in NUMERIC_TYPE_WORDS)


@dataclass(frozen=True)
class Table:
    """One table: its name and columns in declaration order."""

    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive, as in SQLite), if any."""
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass(frozen=True)
class Schema:
    """A set of tables; names compare case-insensitively, as in SQLite."""

    tables: tuple[Table, ...]

    def table(self, name: str) -> Table | None:
        """The table called ``name``, if any."""
        low = name.lower()
        return next((t for t in self.tables if t.name.lower() == low), None)

    def with_columns(self, extra: dict[str, tuple[str, ...]]) -> Schema:
        """A copy with ``extra`` columns (lower-case table -> names) appended, untyped.

        Tables that do not exist yet are added (with a column ``id`` when no column is named).
        """
        tables = []
        for table in self.tables:
            names = [n for n in extra.get(table.name.lower(), ()) if table.column(n) is None]
            added = tuple(Column(n, "") for n in dict.fromkeys(names))
            tables.append(Table(table.name, table.columns + added))
        for name, columns in extra.items():
            if self.table(name) is None:
                cols = tuple(Column(n, "") for n in dict.fromkeys(columns or ("id",)))
                tables.append(Table(name, cols))
        return Schema(tuple(tables))

    def as_sqlglot(self) -> dict[str, object]:
        """The mapping sqlglot's optimizer takes (lower-cased names)."""
        return {t.name.lower(): {c.name.lower(): (c.type or "TEXT") for c in t.columns} for t in self.tables}

    def ddl(self) -> list[str]:
        """CREATE TABLE statements that rebuild this schema in SQLite."""
        out = []
        for table in self.tables:
            cols = ", ".join(f"{quote(c.name)} {c.type}".rstrip() for c in table.columns)
            out.append(f"CREATE TABLE {quote(table.name)} ({cols})")
        return out


def quote(name: str) -> str:
    """An SQLite-quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=4096)
def parse_schema(text: str) -> Schema:
    """Read CREATE TABLE statements; repeated tables are merged (the data set repeats some).

    Args:
        text: one or more ``CREATE TABLE`` statements separated by semicolons.

    Returns:
        The schema, tables in first-seen order.

    Raises:
        SchemaError: when no statement can be read as a CREATE TABLE.
    """
    try:
        statements = sqlglot.parse(text, read="sqlite")
    except sqlglot.errors.SqlglotError as err:
        raise SchemaError(f"unparsable schema: {err}") from err
    merged: dict[str, tuple[str, list[Column]]] = {}
    for stmt in statements:
        if not isinstance(stmt, exp.Create) or not isinstance(stmt.this, exp.Schema):
            continue
        name = stmt.this.this.name
        _, cols = merged.setdefault(name.lower(), (name, []))
        for coldef in stmt.this.expressions:
            if not isinstance(coldef, exp.ColumnDef):
                continue
            col = Column(coldef.name, coldef.args["kind"].sql("sqlite") if coldef.args.get("kind") else "")
            if all(c.name.lower() != col.name.lower() for c in cols):
                cols.append(col)
    if not merged:
        raise SchemaError("no CREATE TABLE statement in the schema")
    return Schema(tuple(Table(name, tuple(cols)) for name, cols in merged.values()))
