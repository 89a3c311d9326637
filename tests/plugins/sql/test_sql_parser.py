"""The sql parser: one statement out of plain, fenced or prefixed model output."""

from __future__ import annotations

import pytest
from fteval_sql.parser import SqlParser
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fast

GOLD = "SELECT count(*) FROM singer"


@pytest.mark.parametrize(
    "output",
    [
        GOLD,
        f"  {GOLD};  ",
        f"```sql\n{GOLD};\n```",
        f"Here you go:\n```\n{GOLD}\n```\nThis counts singers.",
        f"SQL: {GOLD}",
        f"sql:{GOLD};",
        f"{GOLD}; DROP TABLE singer;",
        f"{GOLD};\nSELECT 2",
    ],
)
def test_extracts_the_first_statement(output: str) -> None:
    parsed = SqlParser().parse(output)
    assert parsed.ok and parsed.value == GOLD


def test_semicolons_inside_quotes_and_comments_do_not_split() -> None:
    sql = "SELECT name FROM battle WHERE note = 'a;b' -- x;y\n AND \"c;d\" = 1 /* ; */"
    assert SqlParser().parse(sql + "; SELECT 1").value == sql


@pytest.mark.parametrize("output", ["", "   ", ";", "```sql\n```", "SQL:   "])
def test_empty_output_is_a_parse_failure(output: str) -> None:
    parsed = SqlParser().parse(output)
    assert not parsed.ok and parsed.error


def test_default_metrics_and_config() -> None:
    assert SqlParser.default_metrics == ("char_exact", "normalized_match", "execution_accuracy", "valid_sql_rate")
    assert SqlParser().config.dialect == "sqlite"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    parsed = SqlParser().parse(text)
    assert parsed.ok == (parsed.value is not None)
    if parsed.ok:
        assert parsed.value == parsed.value.strip() and parsed.value


def test_inline_fence_without_language() -> None:
    assert SqlParser().parse(f"```{GOLD}```").value == GOLD
