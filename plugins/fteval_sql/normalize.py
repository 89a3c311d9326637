"""A canonical text for a SQLite query, changed only in ways that keep its meaning.

Two queries are ``normalized_match``-equal when their canonical texts are identical. What is
normalised (each step is meaning-preserving in SQLite):
- keyword case, whitespace, comments, optional ``AS``, ``<>`` vs ``!=``, ``INNER JOIN`` vs
  ``JOIN``, an explicit ``ASC``, a trailing semicolon;
- identifier case and quoting (SQLite identifiers are case-insensitive, quoted or not:
  ``"Name"``, `` `name` ``, ``[name]`` and ``name`` are one column; a name is quoted only when it
  needs quotes) -- only when the schema is known, so that a double-quoted string such as
  ``"France"`` (SQLite reads an unknown quoted name as a string) can first be told apart from a
  column and kept case-sensitive; a single-quoted ``'name'`` is always a string;
- table aliases: with the schema, every column is qualified and every table instance gets a
  positional alias (sqlglot's scope-aware ``canonicalize_table_aliases``), so ``T1.name`` with
  ``singer AS T1`` equals ``name`` with ``singer``; output-column aliases that nothing refers to;
- operand order of AND, OR, ``=``, ``!=``, of ``<``/``>``/``<=``/``>=`` (flipping the operator)
  and of literal ``IN`` lists -- not when an operand carries an explicit COLLATE, whose side
  decides the collation.
Everything else (join order, ``COUNT(x)`` vs ``COUNT(*)``, ``1`` vs ``1.0``, subquery vs join)
is left as written: such pairs are "not equal" here and left to execution accuracy.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify

from fteval_sql.schema import Schema

_FLIP: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}
# A name that needs no quotes to be read back as one identifier (keywords aside).
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class NormalizeError(ValueError):
    """The query cannot be parsed as one SQLite statement."""


@lru_cache(maxsize=8192)
def normalize(sql: str, schema: Schema | None = None, dialect: str = "sqlite") -> str:
    """The canonical text of ``sql``.

    Args:
        sql: one SQL statement.
        schema: the tables it runs on; without it identifiers keep their case and aliases stay.
        dialect: the sqlglot dialect to read and write.

    Returns:
        The canonical SQL text.

    Raises:
        NormalizeError: when sqlglot cannot parse exactly one query statement.
    """
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError) as err:
        raise NormalizeError(f"unparsable: {str(err).splitlines()[0] if str(err) else err}") from err
    if len(trees) != 1:
        raise NormalizeError("not exactly one statement")
    tree = trees[0]
    if not isinstance(tree, (exp.Query, exp.Values)) or not isinstance(tree, exp.Expression):
        raise NormalizeError(f"not a query: {type(tree).__name__}")
    try:
        if schema is not None:
            tree = _strings_for_unknown_names(tree, schema)
            tree = normalize_identifiers(tree, dialect=dialect)
            try:
                tree = qualify(
                    tree.copy(),
                    schema=schema.as_sqlglot(),
                    dialect=dialect,
                    expand_stars=False,
                    validate_qualify_columns=False,
                    quote_identifiers=False,
                    identify=False,
                    canonicalize_table_aliases=True,
                )
            except (sqlglot.errors.SqlglotError, KeyError, ValueError):
                pass  # unqualifiable: compare the identifiers as written (lower-cased)
            tree = _unquote_identifiers(tree, dialect)
        tree = _drop_unused_aliases(tree)
        text = tree.sql(dialect=dialect)
        for _ in range(8):  # sort keys depend on canonical children: repeat to a fixed point
            tree = tree.transform(_canonical_node)
            previous, text = text, tree.sql(dialect=dialect)
            if text == previous:
                break
        return text
    except (sqlglot.errors.SqlglotError, RecursionError) as err:
        raise NormalizeError(f"cannot normalise: {err}") from err


def _strings_for_unknown_names(tree: exp.Expression, schema: Schema) -> exp.Expression:
    """``"France"`` that names no column, table or alias is the string 'France' in SQLite."""
    known = {c.name.lower() for t in schema.tables for c in t.columns}
    known |= {t.name.lower() for t in schema.tables}
    known |= {a.alias.lower() for a in tree.find_all(exp.Alias, exp.TableAlias) if a.alias}
    known |= {a.name.lower() for a in tree.find_all(exp.TableAlias)}
    for col in list(tree.find_all(exp.Column)):
        if not col.table and col.this.args.get("quoted") and col.name.lower() not in known:
            col.replace(exp.Literal.string(col.name))
    return tree


def _unquote_identifiers(tree: exp.Expression, dialect: str) -> exp.Expression:
    """Quote a name only when it needs quotes, so ``"name"``, `` `name` ``, ``[name]`` = ``name``.

    Run after ``_strings_for_unknown_names``: every quoted name left is a real identifier. A name
    that is a keyword (``"null"``, ``"select"``) keeps its quotes, so it never prints as one.
    """
    keywords = sqlglot.Dialect.get_or_raise(dialect).tokenizer_class.KEYWORDS
    for ident in tree.find_all(exp.Identifier):
        name = ident.name
        if ident.quoted and _PLAIN_NAME.fullmatch(name) and name.upper() not in keywords:
            ident.set("quoted", False)
    return tree


def _drop_unused_aliases(tree: exp.Expression) -> exp.Expression:
    """Remove output aliases that change nothing: self-aliases anywhere, unreferenced ones on top."""
    top = _top_selects(tree)
    referenced = {c.name.lower() for c in tree.find_all(exp.Column) if not c.table}
    for select in tree.find_all(exp.Select):
        for proj in select.expressions:
            if not isinstance(proj, exp.Alias):
                continue
            inner = proj.this
            same = isinstance(inner, exp.Column) and inner.name.lower() == proj.alias.lower()
            if same or (select in top and proj.alias.lower() not in referenced):
                proj.replace(inner)
    return tree


def _top_selects(tree: exp.Expression | exp.Query) -> list[exp.Expression]:
    if isinstance(tree, exp.SetOperation):
        return _top_selects(tree.left) + _top_selects(tree.right)
    return [tree] if isinstance(tree, exp.Select) else []


def _key(node: exp.Expression) -> str:
    return node.sql(dialect="sqlite")


def _operands(node: exp.Expression, kind: type[exp.Expression]) -> list[exp.Expression]:
    """The operands of an AND (or OR) chain, looking through redundant parentheses."""
    while isinstance(node, exp.Paren) and isinstance(node.this, kind):
        node = node.this
    if isinstance(node, kind):
        return _operands(node.this, kind) + _operands(node.expression, kind)
    return [node]


def _canonical_node(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Join) and (node.args.get("kind") or "").upper() == "INNER":
        node.set("kind", None)
    elif isinstance(node, exp.Ordered) and not node.args.get("desc"):
        node.set("desc", None)
    elif isinstance(node, (exp.And, exp.Or)):
        parts = sorted(_operands(node, type(node)), key=_key)
        out = parts[0]
        for part in parts[1:]:
            out = type(node)(this=out, expression=part)
        return out
    elif isinstance(node, (exp.EQ, exp.NEQ)) and not node.find(exp.Collate):
        if _key(node.this) > _key(node.expression):
            return type(node)(this=node.expression, expression=node.this)
    elif type(node) in _FLIP and not node.find(exp.Collate):
        if _key(node.this) > _key(node.expression):
            return _FLIP[type(node)](this=node.expression, expression=node.this)
    elif isinstance(node, exp.In) and node.expressions and all(isinstance(e, exp.Literal) for e in node.expressions):
        node.set("expressions", sorted(node.expressions, key=_key))
    return node
