"""The run store's schema as append-only migrations: one named function per schema change, applied in order.

A migration's number is its place in ``MIGRATIONS`` and is recorded in the store's ``migrations``
table, so a released migration never changes, moves or goes away: a new one is a new function
appended at the end. docs/store.md's schema section is generated from these
(``python -m fteval.storage.storedoc --write``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "statements"]


@dataclass(frozen=True)
class Migration:
    """One schema change: its number, the function that names it, and its SQL script."""

    version: int
    name: str
    summary: str
    script: str


def initial_schema() -> str:
    """The initial schema: runs, examples, scores, aggregates, training jobs and curves, the response cache."""
    return """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, run_key TEXT NOT NULL, spec_name TEXT NOT NULL, spec_hash TEXT NOT NULL,
        spec_json TEXT NOT NULL, target TEXT NOT NULL, trainer TEXT NOT NULL, generator TEXT NOT NULL,
        is_baseline INTEGER NOT NULL DEFAULT 0, job_id TEXT, model_fingerprint TEXT NOT NULL,
        generation_json TEXT NOT NULL, config_json TEXT NOT NULL, versions_json TEXT NOT NULL,
        seed INTEGER NOT NULL, n_examples INTEGER NOT NULL, status TEXT NOT NULL,
        started_at REAL NOT NULL, finished_at REAL
    );
    CREATE INDEX runs_key ON runs(run_key);
    CREATE TABLE examples (
        run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, prompt_json TEXT NOT NULL,
        gold TEXT NOT NULL, output TEXT NOT NULL, parse_ok INTEGER NOT NULL, parsed_json TEXT,
        parse_error TEXT, latency_s REAL, prompt_tokens INTEGER, completion_tokens INTEGER,
        cost_usd REAL, cached INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE scores (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
        detail TEXT, parts_json TEXT, PRIMARY KEY (run_id, idx, metric)
    );
    CREATE TABLE aggregates (
        run_id TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, ci_low REAL NOT NULL,
        ci_high REAL NOT NULL, n INTEGER NOT NULL, method TEXT NOT NULL, PRIMARY KEY (run_id, metric)
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, job_key TEXT NOT NULL UNIQUE, spec_name TEXT NOT NULL, target TEXT NOT NULL,
        trainer TEXT NOT NULL, external_id TEXT, status TEXT NOT NULL, workdir TEXT NOT NULL,
        handle_json TEXT, stats_json TEXT NOT NULL DEFAULT '{}', config_json TEXT NOT NULL,
        started_at REAL NOT NULL, finished_at REAL
    );
    CREATE TABLE job_metrics (
        job_id TEXT NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (job_id, step, name)
    );
    CREATE TABLE responses (
        key TEXT PRIMARY KEY, text TEXT NOT NULL, latency_s REAL, prompt_tokens INTEGER,
        completion_tokens INTEGER, cost_usd REAL, created_at REAL NOT NULL
    );
    """


def skipped_rows() -> str:
    """Bad data rows dropped by ``on_bad_row: skip`` when the run's eval split was loaded."""
    return """
    ALTER TABLE runs ADD COLUMN skipped_rows INTEGER NOT NULL DEFAULT 0
    """


def model_location_and_identity() -> str:
    """Where the evaluated model is and the identity of the model the target names."""
    return """
    ALTER TABLE runs ADD COLUMN model_location TEXT;
    ALTER TABLE runs ADD COLUMN model_identity TEXT
    """


def run_process() -> str:
    """The process running a run, so a run whose process died reads 'interrupted'."""
    return """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT
    """


def labels_and_tags() -> str:
    """A run's label (``--label v2.1``) and named tags pointing at runs (``fteval tag``)."""
    return """
    ALTER TABLE runs ADD COLUMN label TEXT;
    CREATE TABLE tags (
        name TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), created_at REAL NOT NULL
    );
    CREATE INDEX tags_run ON tags(run_id);
    """


def leases() -> str:
    """Leases, so one process at a time trains a job or evaluates a run (``fteval.storage.leases``)."""
    return """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, token TEXT NOT NULL,
        grp TEXT NOT NULL DEFAULT '', expires_at REAL NOT NULL, acquired_at REAL NOT NULL
    );
    """


def process_start_times() -> str:
    """When the process of a run or a lease started, so a pid the system gave to a new process reads dead."""
    return """
    ALTER TABLE runs ADD COLUMN pid_started INTEGER;
    ALTER TABLE leases ADD COLUMN pid_started INTEGER
    """


def calls() -> str:
    """Every model call a run makes besides its one answer per example (pipeline steps, model-graded metrics).

    Branch ``pipe`` (issue 19): one row per call with the step, the call number within it, prompt,
    output, tokens, cost, latency and whether the cache answered.
    """
    return """
    CREATE TABLE calls (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, step TEXT NOT NULL, call_no INTEGER NOT NULL,
        purpose TEXT NOT NULL, target TEXT NOT NULL, cache_key TEXT NOT NULL, prompt_json TEXT NOT NULL,
        output TEXT NOT NULL, latency_s REAL, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL,
        cached INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, PRIMARY KEY (run_id, idx, step, call_no)
    )
    """


def ratings() -> str:
    """Human ratings (``fteval rate``): rating sheets and each rater's ratings.

    Branch ``free`` (issue 20).
    """
    return """
    CREATE TABLE rating_sheets (
        id TEXT PRIMARY KEY, runs_json TEXT NOT NULL, seed INTEGER NOT NULL, scale_min INTEGER NOT NULL,
        scale_max INTEGER NOT NULL, rubric TEXT NOT NULL, items_json TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE TABLE ratings (
        sheet_id TEXT NOT NULL REFERENCES rating_sheets(id), rater TEXT NOT NULL, run_id TEXT NOT NULL,
        idx INTEGER NOT NULL, rating REAL NOT NULL, comment TEXT, imported_at REAL NOT NULL,
        PRIMARY KEY (sheet_id, rater, run_id, idx)
    );
    CREATE INDEX ratings_run ON ratings(run_id)
    """


def prices_and_queue_wait() -> str:
    """The per-token prices a run's costs were computed with, and each example's wait before its request."""
    return """
    ALTER TABLE runs ADD COLUMN prices_json TEXT;
    ALTER TABLE examples ADD COLUMN queue_s REAL
    """


def exports() -> str:
    """Model folders written by ``fteval export-model``, so ``show`` links a folder's identity to its job.

    Branch ``release``.
    """
    return """
    CREATE TABLE exports (
        path TEXT NOT NULL, identity TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id), job_id TEXT,
        kind TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE INDEX exports_identity ON exports(identity);
    CREATE INDEX exports_run ON exports(run_id)
    """


_STEPS: tuple[Callable[[], str], ...] = (
    initial_schema,  # 1
    skipped_rows,  # 2
    model_location_and_identity,  # 3
    run_process,  # 4
    labels_and_tags,  # 5
    leases,  # 6
    process_start_times,  # 7
    calls,  # 8
    ratings,  # 9
    prices_and_queue_wait,  # 10
    exports,  # 11
)


def _summary(step: Callable[[], str]) -> str:
    return (step.__doc__ or "").strip().split("\n")[0]


MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(version, step.__name__, _summary(step), step()) for version, step in enumerate(_STEPS, start=1)
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """The SQL statements of a migration script, in order."""
    return [s for s in script.split(";") if s.strip()]
