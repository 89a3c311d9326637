"""Fixtures for the SQL plugin tests: real val rows and ScoreItem builders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fteval_sql.parser import SqlParser

from fteval.plugin import Example, Prompt, ScoreItem

ROOT = Path(__file__).resolve().parents[3]
VAL = ROOT / "specs" / "data" / "sql" / "val.json"
PAIRS = ROOT / "tests" / "data" / "sql_equivalence.jsonl"


@pytest.fixture(scope="session")
def val_rows() -> list[dict[str, str]]:
    """The 568 rows of the val split."""
    return json.loads(VAL.read_text())


@pytest.fixture(scope="session")
def pairs() -> list[dict]:
    """The hand-labelled (gold, pred, equivalent) pairs."""
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def make_item() -> Callable[..., ScoreItem]:
    """Build a ScoreItem from a row (context + answer) and a raw model output."""
    parser = SqlParser()

    def build(row: dict, output: str, index: int = 0, gold: str | None = None) -> ScoreItem:
        gold = row["answer"] if gold is None else gold
        example = Example(index, row, Prompt(None, row.get("question", "")), gold)
        return ScoreItem(example, output, parser.parse(output), parser.parse(gold))

    return build
