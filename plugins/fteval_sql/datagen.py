"""Generated table contents chosen to tell SQL queries apart.

Columns compared with each other in the gold query (joins, ``IN (SELECT ...)``, set operations)
or sharing a name share one value pool, so joins find partners. Each pool mixes the gold's
literals, values just around them (``>`` vs ``>=``), case variants and LIKE-pattern instances
(``=`` vs ``LIKE``), a few generic values drawn from a small range (duplicates, so COUNT vs
COUNT(DISTINCT) and GROUP BY/HAVING differ) and, except on database 0, NULLs.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from fteval_sql.analysis import ColumnRef, GoldProfile, Value
from fteval_sql.schema import Schema

GENERIC_WORDS = ("alpha", "Beta", "gamma", "Delta", "epsilon", "ZETA", "eta", "Theta")
Rows = dict[str, list[tuple[Any, ...]]]  # table name -> rows in column order


@dataclass
class _Pool:
    numeric: bool = False
    literals: list[tuple[str, Value]] = field(default_factory=list)


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (``hash()`` of a str is not)."""
    return zlib.crc32(repr(parts).encode("utf-8"))


def generate(schema: Schema, profile: GoldProfile, k: int, seed: int) -> list[Rows]:
    """Contents of ``k`` databases for ``schema``, deterministic in (schema, profile, seed).

    Args:
        schema: the tables (already extended with the columns the gold needs).
        profile: the gold query's literals and linked columns.
        k: how many databases.
        seed: the run seed.

    Returns:
        One mapping table -> rows per database.
    """
    pools, group_of = _pools(schema, profile)
    base = stable_seed(schema, profile, seed)
    out = []
    for db in range(k):
        rng = random.Random(base + db)
        values = {g: _values(pool, rng) for g, pool in pools.items()}
        literal_share = 0.6 if db == 0 else rng.choice((0.3, 0.5, 0.8, 1.0))
        null_rate = 0.0 if db == 0 else rng.choice((0.05, 0.1, 0.2))
        n_rows = _row_counts(db, k, profile.count_above, rng)
        count_db = db == k - 1 and profile.count_above >= 8
        rows: Rows = {}
        # database 3 leaves one table empty: MAX(x) and ORDER BY x LIMIT 1 differ only there
        empty = rng.choice(schema.tables).name if db == 3 else None
        for table in schema.tables:
            cells = []
            for c in table.columns:
                near, generic = values[group_of[(table.name.lower(), c.name.lower())]]
                if count_db:  # few distinct values, so groups grow past the threshold
                    generic = generic[:2]
                elif db > 0 and len(generic) > 2:  # each table sees part of a shared pool: NOT IN, EXCEPT
                    generic = rng.sample(generic, rng.randint(len(generic) // 2 + 1, len(generic)))
                cells.append((near, generic))
            rows[table.name] = [
                tuple(_draw(cell, rng, literal_share, null_rate) for cell in cells)
                for _ in range(0 if table.name == empty else n_rows)
            ]
        out.append(rows)
    return out


def _row_counts(db: int, k: int, count_above: int, rng: random.Random) -> int:
    """Rows per table: fixed on db 0, varied after; the last database clears COUNT(*) > n tests."""
    if db == k - 1 and count_above >= 8:
        return min(3 * (count_above + 1), 800)
    return 12 if db == 0 else rng.choice((3, 6, 10, 15, 20))


def _pools(schema: Schema, profile: GoldProfile) -> tuple[dict[ColumnRef, _Pool], dict[ColumnRef, ColumnRef]]:
    """Union the columns that must share values; one pool per group."""
    parent: dict[ColumnRef, ColumnRef] = {}

    def find(x: ColumnRef) -> ColumnRef:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: ColumnRef, b: ColumnRef) -> None:
        parent[find(a)] = find(b)

    by_name: dict[str, ColumnRef] = {}
    for table in schema.tables:
        for col in table.columns:
            ref = (table.name.lower(), col.name.lower())
            find(ref)
            if col.name.lower() in by_name:
                union(ref, by_name[col.name.lower()])
            by_name.setdefault(col.name.lower(), ref)
    for a, b in profile.links:
        union(a, b)
    pools: dict[ColumnRef, _Pool] = {}
    for table in schema.tables:
        for col in table.columns:
            pool = pools.setdefault(find((table.name.lower(), col.name.lower())), _Pool())
            pool.numeric = pool.numeric or col.numeric
    for ref, op, value in profile.literals:
        if ref in parent:
            pools[find(ref)].literals.append((op, value))
    for pool in pools.values():
        kinds = {isinstance(v, str) for _, v in pool.literals}
        if kinds == {False}:
            pool.numeric = True
        elif True in kinds and not any(_numeric_text(v) for _, v in pool.literals if isinstance(v, str)):
            pool.numeric = False
    group_of = {ref: find(ref) for ref in list(parent)}
    return pools, group_of


def _numeric_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _values(pool: _Pool, rng: random.Random) -> tuple[list[Value], list[Value]]:
    """(literal-derived values, generic values) of one pool for one database."""
    near: list[Value] = []
    for op, value in pool.literals:
        if isinstance(value, str) and _numeric_text(value) and pool.numeric:
            value = float(value) if "." in value else int(value)
        if isinstance(value, (int, float)):
            step = 1 if isinstance(value, int) else 0.5
            near += [value, value, value, value - step, value + step]
        elif op in ("like", "ilike", "glob"):
            near += _like_instances(value)
        else:
            near += [value, value, value, *_case_variants(value)]
    size = rng.choice((3, 4, 6))
    centres = [v for v in near if isinstance(v, int)]
    if pool.numeric:
        # around a literal when there is one, so both sides of a comparison get rows
        low = rng.choice(centres) - 2 * size if centres else 1
        generic: list[Value] = rng.sample(range(low, low + 4 * size + 1), size)
    else:
        words = rng.sample(GENERIC_WORDS, size)
        generic = [*words, words[0].swapcase()]
    return near, generic


def _case_variants(text: str) -> list[str]:
    return [v for v in dict.fromkeys((text.upper(), text.lower(), text.title())) if v != text]


def _like_instances(pattern: str) -> list[str]:
    """Strings that match a LIKE pattern in different ways, plus near misses."""
    core = pattern.replace("%", "").replace("_", "")
    exact = pattern.replace("%", "").replace("_", "x")
    padded = pattern.replace("%", "Qz").replace("_", "y")
    return [exact, padded, padded.lower(), padded.upper(), core[:-1] or "q", "zz" + core[1:]]


def _draw(
    values: tuple[list[Value], list[Value]], rng: random.Random, literal_share: float, null_rate: float
) -> Value | None:
    near, generic = values
    if null_rate and rng.random() < null_rate:
        return None
    if near and rng.random() < literal_share:
        return rng.choice(near)
    return rng.choice(generic)
