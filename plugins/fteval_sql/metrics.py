"""SQL metrics: normalized_match, execution_accuracy and valid_sql_rate."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import Field

from fteval.plugin import Metric, PluginConfig, Score, ScoreItem
from fteval_sql.execution import ExecSettings, Executor
from fteval_sql.normalize import NormalizeError, normalize
from fteval_sql.pool import ScoringPool, evaluate_safely
from fteval_sql.sandbox import Limits
from fteval_sql.schema import Schema, SchemaError, parse_schema


def _pair(item: ScoreItem) -> tuple[str, str] | Score:
    """(gold, pred) SQL strings, or the zero score that a failed parse earns."""
    if not item.gold.ok or not isinstance(item.gold.value, str):
        return Score(0.0, detail=f"gold not parsed: {item.gold.error}")
    if not item.pred.ok or not isinstance(item.pred.value, str):
        return Score(0.0, detail=f"prediction not parsed: {item.pred.error}")
    return item.gold.value, item.pred.value


def _context(item: ScoreItem, column: str) -> str | None:
    value = item.example.row.get(column)
    return value if isinstance(value, str) and value.strip() else None


class NormalizedMatchConfig(PluginConfig):
    """Options of ``normalized_match``."""

    dialect: str = Field("sqlite", description="sqlglot dialect used to read and write SQL.")
    schema_column: str = Field("context", description="Row column with CREATE TABLE statements (used when present).")


class NormalizedMatch(Metric[NormalizedMatchConfig]):
    """1 when gold and prediction have the same canonical text (see ``fteval_sql.normalize``)."""

    Config = NormalizedMatchConfig

    def score(self, item: ScoreItem) -> Score:
        """Compare canonical texts; an unparsable prediction scores 0."""
        pair = _pair(item)
        if isinstance(pair, Score):
            return pair
        gold, pred = pair
        schema = _schema_or_none(_context(item, self.config.schema_column))
        try:
            gold_norm = normalize(gold, schema, self.config.dialect)
        except NormalizeError as err:
            same = " ".join(gold.split()) == " ".join(pred.split())
            return Score(1.0 if same else 0.0, detail=None if same else f"gold {err}")
        try:
            pred_norm = normalize(pred, schema, self.config.dialect)
        except NormalizeError as err:
            return Score(0.0, detail=f"prediction {err}")
        return Score(1.0) if gold_norm == pred_norm else Score(0.0, detail="different after normalisation")


def _schema_or_none(context: str | None) -> Schema | None:
    if context is None:
        return None
    try:
        return parse_schema(context)
    except SchemaError:
        return None


class ExecutionAccuracyConfig(PluginConfig):
    """Options of ``execution_accuracy``."""

    databases: int = Field(5, ge=1, le=50, description="Generated databases per schema (K).")
    schema_column: str = Field("context", description="Row column with CREATE TABLE statements.")
    timeout_s: float = Field(1.0, gt=0, le=60, description="Time limit of each query.")
    max_rows: int = Field(10_000, ge=1, description="Most rows a query may return.")
    memory_mb: int = Field(512, ge=0, description="SQLite heap cap per worker (0: none).")
    seed: int = Field(0, description="Seed of the generated data.")
    processes: int | None = Field(
        None, ge=0, description="Worker processes; None: all cores; 0: score in this process."
    )


class ExecutionAccuracy(Metric[ExecutionAccuracyConfig]):
    """1 when the prediction returns the gold's result on every generated database."""

    Config = ExecutionAccuracyConfig

    def __init__(self, config: ExecutionAccuracyConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.settings = ExecSettings(
            databases=c.databases, seed=c.seed, limits=Limits(timeout_s=c.timeout_s, max_rows=c.max_rows)
        )
        self._local: Executor | None = None
        self._pool: ScoringPool | None = None

    def score(self, item: ScoreItem) -> Score:
        """Score one example (through the pool, which holds the memory cap)."""
        return self.score_many([item])[0]

    def score_many(self, items: Sequence[ScoreItem]) -> list[Score]:
        """Score a batch over the worker processes; databases are cached per schema and gold."""
        scores: list[Score | None] = [None] * len(items)
        jobs, where = [], []
        for i, item in enumerate(items):
            pair = _pair(item)
            context = _context(item, self.config.schema_column)
            if isinstance(pair, Score):
                scores[i] = pair
            elif context is None:
                scores[i] = Score(0.0, detail=f"no schema in column {self.config.schema_column!r}")
            else:
                jobs.append((context, pair[0], pair[1]))
                where.append(i)
        for i, (value, detail) in zip(where, self._run(jobs), strict=False):
            scores[i] = Score(value, detail=detail)
        return [s for s in scores if s is not None]

    def _run(self, jobs: list[tuple[str, str, str]]) -> list[tuple[float, str | None]]:
        if not jobs:
            return []
        processes = self.config.processes
        if processes is None:
            processes = os.cpu_count() or 1
        if processes == 0:
            if self._local is None:
                self._local = Executor(self.settings)
            return [evaluate_safely(self._local, job) for job in jobs]
        if self._pool is None:
            self._pool = ScoringPool(self.settings, processes, self.config.memory_mb * 2**20)
        return self._pool.run(jobs)

    def close(self) -> None:
        """Stop the workers and drop the cached databases."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._local is not None:
            self._local.close()
            self._local = None


class ValidSqlRateConfig(PluginConfig):
    """Options of ``valid_sql_rate``."""

    schema_column: str = Field("context", description="Row column with CREATE TABLE statements.")
    timeout_s: float = Field(1.0, gt=0, le=60, description="Time limit of the compile check.")


class ValidSqlRate(Metric[ValidSqlRateConfig]):
    """1 when SQLite compiles the prediction as a read-only query on the schema (nothing is run).

    Without a schema in the row, 1 when sqlglot parses it as one SQLite statement.
    """

    Config = ValidSqlRateConfig

    def __init__(self, config: ValidSqlRateConfig | None = None) -> None:
        super().__init__(config)
        self._executor = Executor(
            ExecSettings(databases=1, limits=Limits(timeout_s=self.config.timeout_s)), cache_size=32
        )

    def score(self, item: ScoreItem) -> Score:
        """Compile the prediction (EXPLAIN, nothing runs) in the sandbox on a generated copy of the schema."""
        if not item.pred.ok or not isinstance(item.pred.value, str):
            return Score(0.0, detail=f"prediction not parsed: {item.pred.error}")
        pred = item.pred.value
        context = _context(item, self.config.schema_column)
        if context is None:
            try:
                normalize(pred)
            except NormalizeError as err:
                return Score(0.0, detail=str(err))
            return Score(1.0)
        gold = item.gold.value if item.gold.ok and isinstance(item.gold.value, str) else ""
        try:
            ok, detail = self._executor.compiles(context, gold, pred)
        except Exception as err:  # untrusted input must never stop a run
            ok, detail = False, f"internal error: {type(err).__name__}: {err}"
        return Score(1.0 if ok else 0.0, detail=detail)

    def close(self) -> None:
        """Drop the cached schemas."""
        self._executor.close()
