"""The ``sql`` parser: model output -> exactly one SQL statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from fteval.plugin import Breakdown, Outcome, Parsed, Parser, PluginConfig, nfc
from fteval_sql.breakdowns import sql_breakdowns
from fteval_sql.extract import extract_sql


class SqlParserConfig(PluginConfig):
    """Options of the ``sql`` parser."""

    dialect: str = Field("sqlite", description="SQL dialect of the outputs (sqlglot name).")


class SqlParser(Parser[SqlParserConfig]):
    """Keeps the first statement of plain text, a fenced code block or an ``SQL:`` answer.

    Text after the first statement (a second statement, an explanation) is dropped. Whether the
    statement is valid SQL is the job of ``valid_sql_rate``; the parser only fails on output with
    no statement at all.
    """

    Config = SqlParserConfig
    default_metrics: ClassVar[tuple[str, ...]] = (
        "char_exact",
        "normalized_match",
        "execution_accuracy",
        "valid_sql_rate",
    )

    def parse(self, text: str) -> Parsed:
        """Extract the statement; empty output is a parse failure."""
        try:
            sql = extract_sql(nfc(text or ""))
        except Exception as err:  # never raise on model output
            return Parsed.fail(f"cannot read output: {err}")
        if sql is None:
            return Parsed.fail("no SQL statement in the output")
        return Parsed(ok=True, value=sql)

    def breakdowns(self, outcomes: Sequence[Outcome]) -> list[Breakdown]:
        """Accuracy by gold-query feature (JOIN, GROUP BY, ...) and outcomes by error kind."""
        return sql_breakdowns(outcomes)
