"""normalized_match: equal only after meaning-preserving rewrites."""

from __future__ import annotations

import pytest
from fteval_sql.normalize import NormalizeError, normalize
from fteval_sql.schema import parse_schema

pytestmark = pytest.mark.fast

SINGER = parse_schema("CREATE TABLE singer (name VARCHAR, country VARCHAR, age INTEGER, singer_id VARCHAR)")
TWO = parse_schema(
    "CREATE TABLE singer (name VARCHAR, singer_id VARCHAR, age INTEGER); "
    "CREATE TABLE singer_in_concert (singer_id VARCHAR, concert_id VARCHAR)"
)


def same(a: str, b: str, schema=SINGER) -> bool:
    return normalize(a, schema) == normalize(b, schema)


@pytest.mark.parametrize(
    "a, b",
    [
        ("SELECT name FROM singer WHERE age > 20", "select  NAME\nfrom SINGER where AGE>20 ;"),
        ("SELECT name FROM singer WHERE country = 'France'", 'SELECT name FROM singer WHERE country = "France"'),
        ("SELECT T1.name FROM singer AS T1", "SELECT name FROM singer"),
        ("SELECT name AS n FROM singer", "SELECT name FROM singer"),
        (
            "SELECT name FROM singer WHERE age > 20 AND country = 'x'",
            "SELECT name FROM singer WHERE country = 'x' AND age > 20",
        ),
        ("SELECT name FROM singer WHERE age > 20", "SELECT name FROM singer WHERE 20 < age"),
        ("SELECT name FROM singer WHERE age != 20", "SELECT name FROM singer WHERE age <> 20"),
        ("SELECT name FROM singer ORDER BY age ASC", "SELECT name FROM singer ORDER BY age"),
        ("SELECT name FROM singer WHERE age IN (1, 2)", "SELECT name FROM singer WHERE age IN (2, 1)"),
        (
            "SELECT name FROM singer WHERE a = 1 OR (b = 2 OR c = 3)",
            "SELECT name FROM singer WHERE (c = 3 OR a = 1) OR b = 2",
        ),
    ],
)
def test_equal_after_normalisation(a: str, b: str) -> None:
    assert same(a, b)


@pytest.mark.parametrize(
    "a, b",
    [
        ('SELECT name FROM singer WHERE country = "France"', 'SELECT name FROM singer WHERE country = "france"'),
        ("SELECT name FROM singer WHERE age > 20", "SELECT name FROM singer WHERE 20 > age"),
        ("SELECT name FROM singer WHERE age > 20", "SELECT name FROM singer WHERE age >= 20"),
        ("SELECT name FROM singer ORDER BY age DESC LIMIT 1", "SELECT name FROM singer ORDER BY age LIMIT 1"),
        ("SELECT count(*) FROM singer", "SELECT count(DISTINCT name) FROM singer"),
        ("SELECT name FROM singer WHERE name LIKE 'a'", "SELECT name FROM singer WHERE name = 'a'"),
        ("SELECT name, age FROM singer", "SELECT name FROM singer"),
        (
            "SELECT name FROM singer WHERE a = 1 AND b = 2 OR c = 3",
            "SELECT name FROM singer WHERE a = 1 AND (b = 2 OR c = 3)",
        ),
        (
            "SELECT name FROM singer WHERE name = 'a' COLLATE NOCASE",
            "SELECT name FROM singer WHERE 'a' COLLATE NOCASE = name",
        ),
    ],
)
def test_different_queries_stay_different(a: str, b: str) -> None:
    assert not same(a, b)


QUOTED = parse_schema('CREATE TABLE singer (name VARCHAR, "a b" INTEGER, "null" INTEGER, country VARCHAR)')


@pytest.mark.parametrize(
    "quoted",
    [
        'SELECT "name" FROM singer',
        "SELECT `name` FROM singer",
        "SELECT [name] FROM singer",
        'SELECT name FROM "singer"',
        'SELECT "NAME" FROM [Singer]',
        'SELECT "T1"."name" FROM "singer" AS "T1"',
    ],
)
def test_identifier_quoting_is_normalised_with_the_schema(quoted: str) -> None:
    assert same(quoted, "SELECT name FROM singer")


@pytest.mark.parametrize(
    "a, b",
    [
        ('SELECT "a b" FROM singer', "SELECT [a b] FROM singer"),
        ('SELECT "null" FROM singer', "SELECT `NULL` FROM singer"),
    ],
)
def test_names_that_need_quotes_match_across_quote_styles(a: str, b: str) -> None:
    assert same(a, b, QUOTED)


@pytest.mark.parametrize(
    "a, b",
    [
        # A single-quoted 'name' is a string, never the column.
        ("SELECT 'name' FROM singer", "SELECT name FROM singer"),
        ("SELECT 'name' FROM singer", 'SELECT "name" FROM singer'),
        # A name that needs quotes is not the literal NULL, nor a different column.
        ('SELECT "null" FROM singer', "SELECT NULL FROM singer"),
        ('SELECT "a b" FROM singer', "SELECT name FROM singer"),
    ],
)
def test_quoting_normalisation_keeps_strings_and_names_apart(a: str, b: str) -> None:
    assert not same(a, b, QUOTED)


def test_without_schema_quoting_is_kept() -> None:
    # Unknown columns: "name" may be the string 'name' in SQLite.
    assert normalize('SELECT "name" FROM singer') != normalize("SELECT name FROM singer")


def test_correlated_aliases_are_not_merged() -> None:
    outer = "SELECT T1.name FROM singer AS T1 WHERE EXISTS (SELECT 1 FROM singer AS T2 WHERE T2.age > T1.age)"
    inner = "SELECT T1.name FROM singer AS T1 WHERE EXISTS (SELECT 1 FROM singer AS T2 WHERE T2.age > T2.age)"
    assert not same(outer, inner)


def test_join_aliases_canonicalised() -> None:
    a = "SELECT T1.name FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.singer_id = T2.singer_id"
    b = "SELECT s.name FROM singer s JOIN singer_in_concert c ON c.singer_id = s.singer_id"
    assert same(a, b, TWO)


def test_without_schema_case_is_kept() -> None:
    assert normalize('SELECT a FROM t WHERE b = "X"') != normalize('SELECT a FROM t WHERE b = "x"')
    assert normalize("select a from t where b=1") == normalize("SELECT a FROM t WHERE 1 = b")


@pytest.mark.parametrize("bad", ["SELECT count(* FROM singer", "SELECT 1; SELECT 2", "", "SELEC x"])
def test_unparsable_raises_normalize_error(bad: str) -> None:
    with pytest.raises(NormalizeError):
        normalize(bad, SINGER)
