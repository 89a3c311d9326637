"""Generated data: deterministic, uses the gold's literals, varies between databases."""

from __future__ import annotations

from fteval_sql.datagen import generate
from fteval_sql.execution import prepare

CONTEXT = "CREATE TABLE singer (name VARCHAR, country VARCHAR, age INTEGER); CREATE TABLE concert (singer_name VARCHAR)"
GOLD = (
    "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.name = T2.singer_name "
    "WHERE T1.country = 'France' AND T1.age > 30"
)


def _data(seed: int = 0, k: int = 5):
    schema, profile = prepare(CONTEXT, GOLD)
    return generate(schema, profile, k, seed)


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    assert _data(0) == _data(0)
    assert _data(0) != _data(1)


def test_literals_boundaries_and_case_variants_appear() -> None:
    cells = [row for db in _data() for row in db["singer"]]
    countries = {r[1] for r in cells}
    ages = {r[2] for r in cells}
    assert "France" in countries and {"FRANCE", "france"} & countries
    assert {29, 30, 31} <= ages


def test_nulls_only_after_db_0_and_joins_find_partners() -> None:
    dbs = _data()
    assert all(v is not None for row in dbs[0]["singer"] for v in row)
    assert any(v is None for db in dbs[1:] for t in db.values() for row in t for v in row)
    names = {r[0] for r in dbs[0]["singer"]}
    assert names & {r[0] for r in dbs[0]["concert"]}


def test_missing_columns_and_tables_are_added_for_the_gold() -> None:
    schema, profile = prepare(
        "CREATE TABLE country (Name VARCHAR)", "SELECT Name FROM country ORDER BY Population DESC"
    )
    assert schema.table("country").column("Population") is not None and profile.ordered
    schema, _ = prepare("CREATE TABLE Flight (Id VARCHAR)", "SELECT count(*) FROM FLIGHTS")
    assert schema.table("flights") is not None
