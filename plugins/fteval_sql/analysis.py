"""What a gold query tells the data generator: literals per column, joined columns, missing columns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from fteval_sql.schema import Schema

ColumnRef = tuple[str, str]  # (table, column), both lower-case
Value = str | int | float

COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Glob)


@dataclass(frozen=True)
class GoldProfile:
    """Hashable facts about a gold query; together with the schema they fix the generated data."""

    literals: tuple[tuple[ColumnRef, str, Value], ...] = ()
    links: tuple[tuple[ColumnRef, ColumnRef], ...] = ()
    missing: tuple[ColumnRef, ...] = ()
    missing_tables: tuple[str, ...] = ()
    count_above: int = 0
    ordered: bool = False


def has_top_level_order(tree: exp.Expression) -> bool:
    """Whether the query's result order is defined (ORDER BY on the outermost query)."""
    return tree.args.get("order") is not None


@lru_cache(maxsize=4096)
def profile_query(sql: str, schema: Schema) -> GoldProfile:
    """Read the literals, joined column pairs and unknown columns of ``sql``.

    Args:
        sql: the gold query.
        schema: the tables it runs on.

    Returns:
        The profile; an empty profile when sqlglot cannot parse the query (the data is then
        generated from the schema alone).
    """
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
        scopes = list(traverse_scope(tree))
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError):
        return GoldProfile(ordered="order by" in sql.lower())
    if not isinstance(tree, exp.Expression):  # None, or a bare token newer sqlglot may return
        return GoldProfile()
    resolver = _Resolver(schema)
    for scope in scopes:
        resolver.visit(scope)
    literals: list[tuple[ColumnRef, str, Value]] = []
    links: list[tuple[ColumnRef, ColumnRef]] = []
    counts: list[int] = [0]
    for node in tree.find_all(*COMPARISONS, exp.In, exp.Between):
        _collect(node, resolver, literals, links, counts)
    for operation in tree.find_all(exp.SetOperation):
        _link_projections(operation, resolver, links)
    return GoldProfile(
        literals=tuple(dict.fromkeys(literals)),
        links=tuple(dict.fromkeys(links)),
        missing=tuple(dict.fromkeys(resolver.missing)),
        missing_tables=tuple(dict.fromkeys(resolver.missing_tables)),
        count_above=max(counts),
        ordered=has_top_level_order(tree),
    )


class _Resolver:
    """Maps each column node of a query to the table that holds it, scope by scope."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.refs: dict[int, ColumnRef] = {}
        self.strings: set[int] = set()
        self.missing: list[ColumnRef] = []
        self.missing_tables: list[str] = []

    def visit(self, scope: Scope) -> None:
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and self.schema.table(source.name) is None:
                if source.name.lower() not in self.missing_tables:
                    self.missing_tables.append(source.name.lower())
        aliases = {a.alias.lower() for a in scope.expression.find_all(exp.Alias)}
        for col in scope.columns:
            if id(col) in self.refs or id(col) in self.strings:
                continue
            ref = self._resolve(scope, col)
            if ref is not None:
                self.refs[id(col)] = ref
            elif not col.table and col.this.args.get("quoted"):
                self.strings.add(id(col))  # SQLite reads an unknown "name" as a string
            elif not col.table and col.name.lower() in aliases:
                continue
            else:
                home = self._home(scope, col)
                if home is not None:
                    ref = (home, col.name.lower())
                    self.refs[id(col)] = ref
                    self.missing.append(ref)

    def _resolve(self, scope: Scope | None, col: exp.Column) -> ColumnRef | None:
        while scope is not None:
            for alias, source in scope.sources.items():
                if not isinstance(source, exp.Table):
                    continue
                if col.table and alias.lower() != col.table.lower():
                    continue
                table = self.schema.table(source.name)
                if table is not None and table.column(col.name) is not None:
                    return table.name.lower(), col.name.lower()
                if table is None and col.table:  # a table the context forgot: the column is its own
                    return source.name.lower(), col.name.lower()
            scope = scope.parent
        return None

    def _home(self, scope: Scope | None, col: exp.Column) -> str | None:
        """The table to add an unknown column to: the one its qualifier names, else the first."""
        first = None
        while scope is not None:
            for alias, source in scope.sources.items():
                if isinstance(source, exp.Table):
                    if col.table and alias.lower() == col.table.lower():
                        return source.name.lower()
                    first = first or source.name.lower()
            if first and not col.table:
                return first
            scope = scope.parent
        return first

    def ref(self, node: exp.Expression) -> ColumnRef | None:
        """The column a (possibly parenthesised, or MIN/MAX/SUM/AVG-wrapped) expression names."""
        while isinstance(node, (exp.Paren, exp.Avg, exp.Sum, exp.Max, exp.Min)):
            node = node.this
        return self.refs.get(id(node)) if isinstance(node, exp.Column) else None

    def value(self, node: exp.Expression) -> Value | None:
        """The literal value of an expression, if it is one."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Neg):
            inner = self.value(node.this)
            return -inner if isinstance(inner, (int, float)) else None
        if isinstance(node, exp.Literal):
            return _number(node.this) if not node.is_string else node.this
        if isinstance(node, exp.Column) and id(node) in self.strings:
            return node.name
        return None


def _number(text: str) -> Value:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _pair(a: ColumnRef, b: ColumnRef) -> tuple[ColumnRef, ColumnRef]:
    """Two columns in sorted order: a link is the same whichever side it was written on."""
    return (a, b) if a <= b else (b, a)


def _collect(
    node: exp.Condition,
    resolver: _Resolver,
    literals: list[tuple[ColumnRef, str, Value]],
    links: list[tuple[ColumnRef, ColumnRef]],
    counts: list[int],
) -> None:
    op = type(node).__name__.lower()
    for side, other in ((node.this, node.expression), (node.expression, node.this)):
        if isinstance(side, exp.Count) and isinstance(other, exp.Literal) and not other.is_string:
            number = _number(other.this)
            if isinstance(number, (int, float)):
                counts.append(int(number))
    if isinstance(node, exp.Between):
        ref = resolver.ref(node.this)
        for bound in (node.args.get("low"), node.args.get("high")):
            value = resolver.value(bound) if bound is not None else None
            if ref and value is not None:
                literals.append((ref, "between", value))
        return
    if isinstance(node, exp.In):
        ref = resolver.ref(node.this)
        if ref is None:
            return
        for item in node.expressions:
            value = resolver.value(item)
            if value is not None:
                literals.append((ref, "in", value))
        query = node.args.get("query")
        sub = query.this if isinstance(query, exp.Subquery) else query
        if isinstance(sub, exp.Select) and sub.expressions:
            other = resolver.ref(sub.expressions[0])
            if other and other != ref:
                links.append(_pair(ref, other))
        return
    left, right = node.this, node.expression
    lref, rref = resolver.ref(left), resolver.ref(right)
    if lref and rref:
        if lref != rref:
            links.append(_pair(lref, rref))
        return
    ref, value = (lref, resolver.value(right)) if lref else (rref, resolver.value(left))
    if ref and value is not None:
        literals.append((ref, op, value))


def _link_projections(node: exp.SetOperation, resolver: _Resolver, links: list[tuple[ColumnRef, ColumnRef]]) -> None:
    left, right = node.left, node.right
    if not isinstance(left, exp.Select) or not isinstance(right, exp.Select):
        return
    for a, b in zip(left.expressions, right.expressions, strict=False):
        ra, rb = resolver.ref(a.unalias()), resolver.ref(b.unalias())
        if ra and rb and ra != rb:
            links.append(_pair(ra, rb))
