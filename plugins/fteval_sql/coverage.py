"""How often gold queries return something on the generated databases (an all-empty DB proves nothing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fteval_sql.execution import ExecSettings, Executor


@dataclass(frozen=True)
class Coverage:
    """Fractions of gold queries with an informative result (a row holding a value not NULL or 0)."""

    n: int
    any_db: float  # on at least one of the K databases
    all_db: float  # on every database
    mean_db: float  # averaged over databases


def informative_fraction(
    rows: Iterable[Mapping[str, str]],
    settings: ExecSettings = ExecSettings(),  # noqa: B008 - frozen dataclass, safe to share
    schema_column: str = "context",
    gold_column: str = "answer",
) -> Coverage:
    """Run every gold query on its generated databases and count informative results.

    Args:
        rows: data set rows with the schema and the gold SQL.
        settings: the databases (K, seed) and caps, as execution_accuracy uses them.
        schema_column: column with CREATE TABLE statements.
        gold_column: column with the gold query.

    Returns:
        The coverage fractions; a gold that fails or has an unusable schema counts as empty.
    """
    executor = Executor(settings)
    n = any_db = all_db = 0
    mean = 0.0
    try:
        for row in rows:
            try:
                flags = executor.gold_informative(row[schema_column], row[gold_column])
            except Exception:  # a broken row is simply not covered
                flags = [False]
            n += 1
            any_db += any(flags)
            all_db += all(flags)
            mean += sum(flags) / len(flags)
    finally:
        executor.close()
    if n == 0:
        return Coverage(0, 0.0, 0.0, 0.0)
    return Coverage(n, any_db / n, all_db / n, mean / n)
