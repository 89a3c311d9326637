"""The SQLite run store (``.fteval/runs.db``): runs, per-example results, training jobs, a response cache.

One connection per process, WAL mode, every batch of examples in one transaction. Schema changes
are the append-only migrations of ``fteval.storage.migrations``, recorded in the ``migrations`` table.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fteval.errors import StoreError
from fteval.plugin import Aggregate, Generation, ModelHandle, Score
from fteval.storage.migrations import MIGRATIONS, SCHEMA_VERSION, statements
from fteval.storage.processes import HOST, alive, start_ticks
from fteval.storage.records import (
    AggregateRecord,
    CurvePoint,
    ExampleRecord,
    ExportRecord,
    JobRecord,
    NewRun,
    RunRecord,
    RunTotals,
)
from fteval.storage.storedb import Connection, connect

__all__ = ["SCHEMA_VERSION", "ExampleRecord", "NewRun", "Store"]


# Tables the read commands (runs, show, reports) read; a store lacking their columns cannot be read safely.
_READ_TABLES = ("runs", "examples", "scores", "aggregates", "jobs", "job_metrics", "responses")


def _columns(db: Connection | sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def _expected_columns() -> dict[str, set[str]]:
    """Columns of the read tables as this fteval's migrations make them."""
    mem = sqlite3.connect(":memory:")
    for migration in MIGRATIONS:
        mem.executescript(migration.script)
    return {t: _columns(mem, t) for t in _READ_TABLES}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


# columns a read-only store of an older schema may lack; reads fall back when they do
_OPTIONAL_COLUMNS = {"runs.pid_started", "runs.prices_json", "examples.queue_s"}


def _get(row: sqlite3.Row, column: str) -> Any:
    """``row[column]``, or None when the store predates that column."""
    return row[column] if column in row.keys() else None


def _status(row: sqlite3.Row) -> str:
    """The stored status, except that a 'running' run whose process is gone from this host is 'interrupted'.

    A run started on another host keeps 'running': its process cannot be checked from here.
    """
    status: str = row["status"]
    if (
        status == "running"
        and row["pid"] is not None
        and row["host"] == HOST
        and not alive(row["pid"], _get(row, "pid_started"))
    ):
        return "interrupted"
    return status


def _run(row: sqlite3.Row, n_done: int = 0, tags: tuple[str, ...] = ()) -> RunRecord:
    return RunRecord(
        id=row["id"],
        run_key=row["run_key"],
        spec_name=row["spec_name"],
        spec_hash=row["spec_hash"],
        spec=_loads(row["spec_json"], {}),
        target=row["target"],
        trainer=row["trainer"],
        generator=row["generator"],
        is_baseline=bool(row["is_baseline"]),
        job_id=row["job_id"],
        model_fingerprint=row["model_fingerprint"],
        generation=_loads(row["generation_json"], {}),
        config=_loads(row["config_json"], {}),
        versions=_loads(row["versions_json"], {}),
        seed=row["seed"],
        n_examples=row["n_examples"],
        status=_status(row),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        n_done=n_done,
        model_location=row["model_location"],
        model_identity=row["model_identity"],
        pid=row["pid"],
        host=row["host"],
        skipped_rows=row["skipped_rows"],
        label=row["label"],
        tags=tags,
        prices=_loads(_get(row, "prices_json")),
    )


def _job(row: sqlite3.Row) -> JobRecord:
    handle = _loads(row["handle_json"])
    return JobRecord(
        id=row["id"],
        job_key=row["job_key"],
        spec_name=row["spec_name"],
        target=row["target"],
        trainer=row["trainer"],
        external_id=row["external_id"],
        status=row["status"],
        workdir=row["workdir"],
        handle=ModelHandle(**handle) if handle else None,
        stats=_loads(row["stats_json"], {}),
        config=_loads(row["config_json"], {}),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class Store:
    """Access to one run-store database file."""

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the store; read-only when it cannot be written or a newer fteval wrote it.

        Raises:
            StoreError: the file is damaged, not a store, a folder, or lacks columns this fteval reads.
        """
        self.path = Path(path)
        self.db = connect(self.path)
        try:
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    @property
    def writable(self) -> bool:
        """Whether this store accepts writes (otherwise they fail with a StoreError saying why)."""
        return self.db.writable

    def _migrate(self) -> None:
        """Apply pending migrations; refuse writes to a store of a newer schema."""
        has_table = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        if has_table is None and self.db.writable:
            self.db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
        elif has_table is None:
            raise StoreError(
                f"{self.path} is not an fteval store (it has no migrations table): pass --store with a store file"
            )
        done = {r[0] for r in self.db.execute("SELECT version FROM migrations")}
        newest = max(done, default=0)
        if newest > SCHEMA_VERSION:
            self._check_readable(f"a newer fteval (store schema version {newest})")
            self.db.refuse_writes(
                f"it was written by a newer fteval (store schema version {newest}; this fteval writes"
                f" version {SCHEMA_VERSION}): upgrade fteval (pip install -U fteval) to run or train with it"
            )
            return
        if not self.db.writable:
            self._check_readable(f"an older fteval (store schema version {newest})")
            return
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            with self.db.transaction():
                # another process opening the same new store may have applied it since we looked
                if self.db.execute("SELECT 1 FROM migrations WHERE version = ?", (migration.version,)).fetchone():
                    continue
                for statement in statements(migration.script):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO migrations (version, applied_at) VALUES (?, ?)", (migration.version, time.time())
                )

    def _check_readable(self, writer: str) -> None:
        """Refuse a store we cannot migrate whose tables lack columns this fteval reads."""
        missing = [
            f"{table}.{col}"
            for table, cols in _expected_columns().items()
            for col in sorted(cols - _columns(self.db, table))
            if f"{table}.{col}" not in _OPTIONAL_COLUMNS
        ]
        if missing:
            raise StoreError(
                f"{self.path} was written by {writer} and lacks columns this fteval reads ({', '.join(missing[:5])}):"
                " use the fteval version that wrote it"
                + ("" if self.db.writable else ", or make the store writable so it can be migrated")
            )

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # ------------------------------------------------------------ jobs

    def job(self, job_key: str) -> JobRecord | None:
        """The training job with this key, if any."""
        row = self.db.execute("SELECT * FROM jobs WHERE job_key = ?", (job_key,)).fetchone()
        return _job(row) if row is not None else None

    def job_by_id(self, job_id: str) -> JobRecord | None:
        """A training job by id."""
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def start_job(self, job_key: str, spec_name: str, target: str, trainer: str, workdir: str, config: Any) -> str:
        """Create (or reopen) the job for ``job_key``; returns its id."""
        # INSERT OR IGNORE: under a multi-process launch every rank opens the same job.
        self.db.execute(
            "INSERT OR IGNORE INTO jobs (id, job_key, spec_name, target, trainer, status, workdir, config_json,"
            " started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            (uuid.uuid4().hex[:12], job_key, spec_name, target, trainer, workdir, _dumps(config), time.time()),
        )
        job_id: str = self.db.execute("SELECT id FROM jobs WHERE job_key = ?", (job_key,)).fetchone()[0]
        self.db.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job_id,))
        return job_id

    def set_job_external_id(self, job_id: str, external_id: str) -> None:
        """Record a remote job id as soon as it exists."""
        self.db.execute("UPDATE jobs SET external_id = ? WHERE id = ?", (external_id, job_id))

    def update_job_stats(self, job_id: str, stats: dict[str, Any]) -> None:
        """Merge ``stats`` into the job's statistics."""
        row = self.db.execute("SELECT stats_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
        merged = {**json.loads(row["stats_json"]), **stats}
        self.db.execute("UPDATE jobs SET stats_json = ? WHERE id = ?", (_dumps(merged), job_id))

    def finish_job(self, job_id: str, status: str, handle: dict[str, Any] | None) -> None:
        """Mark a job done (with its model handle), failed or interrupted."""
        self.db.execute(
            "UPDATE jobs SET status = ?, handle_json = ?, finished_at = ? WHERE id = ?",
            (status, _dumps(handle) if handle else None, time.time(), job_id),
        )

    def log_job_metrics(self, job_id: str, step: int, values: dict[str, float]) -> None:
        """Append points of a training curve."""
        self.db.executemany(
            "INSERT OR REPLACE INTO job_metrics (job_id, step, name, value) VALUES (?, ?, ?, ?)",
            [(job_id, step, name, float(v)) for name, v in values.items()],
        )

    def job_curve(self, job_id: str) -> list[CurvePoint]:
        """All curve points of a job, by step."""
        rows = self.db.execute(
            "SELECT step, name, value FROM job_metrics WHERE job_id = ? ORDER BY step, name", (job_id,)
        )
        return [CurvePoint(*r) for r in rows]

    # ------------------------------------------------------------ runs

    def find_run(self, run_key: str) -> RunRecord | None:
        """The newest run with this identity."""
        row = self.db.execute(
            "SELECT * FROM runs WHERE run_key = ? ORDER BY started_at DESC LIMIT 1", (run_key,)
        ).fetchone()
        return self._with_progress(row) if row is not None else None

    def _with_progress(self, row: sqlite3.Row) -> RunRecord:
        n_done = self.db.execute("SELECT COUNT(*) FROM examples WHERE run_id = ?", (row["id"],)).fetchone()[0]
        tags = tuple(
            r[0] for r in self.db.execute("SELECT name FROM tags WHERE run_id = ? ORDER BY name", (row["id"],))
        )
        return _run(row, n_done, tags)

    def create_run(self, run: NewRun) -> str:
        """Insert a run in status 'running', owned by this process; returns its id."""
        run_id = f"{run.spec_name}-{run.target}-{uuid.uuid4().hex[:8]}"
        pid = os.getpid()
        self.db.execute(
            "INSERT INTO runs (id, run_key, spec_name, spec_hash, spec_json, target, trainer, generator, is_baseline,"
            " job_id, model_fingerprint, generation_json, config_json, versions_json, seed, n_examples, status,"
            " started_at, skipped_rows, model_location, model_identity, pid, host, pid_started)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                run.run_key,
                run.spec_name,
                run.spec_hash,
                _dumps(run.spec),
                run.target,
                run.trainer,
                run.generator,
                int(run.is_baseline),
                run.job_id,
                run.model_fingerprint,
                _dumps(run.generation),
                _dumps(run.config),
                _dumps(run.versions),
                run.seed,
                run.n_examples,
                time.time(),
                run.skipped_rows,
                run.model_location,
                run.model_identity,
                pid,
                HOST,
                start_ticks(pid),
            ),
        )
        return run_id

    def price_run(self, run_id: str, prices: dict[str, Any]) -> None:
        """Record the prices of a run and recompute its stored costs from tokens with them (unknown: NULL)."""
        rates = (prices.get("input_per_1k"), prices.get("output_per_1k"))
        with self.db.transaction():
            self.db.execute("UPDATE runs SET prices_json = ? WHERE id = ?", (_dumps(prices), run_id))
            self.db.execute(
                "UPDATE examples SET cost_usd = (prompt_tokens * ? + completion_tokens * ?) / 1000.0 WHERE run_id = ?",
                (*rates, run_id),
            )

    def claim_run(self, run_id: str) -> None:
        """Mark a run resumed by this process: status 'running', this pid and host."""
        self.db.execute(
            "UPDATE runs SET status = 'running', pid = ?, host = ?, pid_started = ? WHERE id = ?",
            (os.getpid(), HOST, start_ticks(os.getpid()), run_id),
        )

    def interrupt_run(self, run_id: str) -> None:
        """Mark an unfinished run 'interrupted' (Ctrl-C or a crash); its stored examples stay."""
        self.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status != 'complete'", (run_id,))

    def get_run(self, ref: str) -> RunRecord:
        """A run by id, tag, label or unique id prefix; ``latest`` here is the newest run of any status.

        An exact id wins over a tag, a tag over a label, and a label over an id prefix. Commands resolve
        what users type through ``fteval.storage.refs`` (``latest``: the newest *complete* run of a series).

        Raises:
            StoreError: no run, an ambiguous prefix, or a label that several runs carry.
        """
        tagged = self.db.execute(
            "SELECT runs.* FROM tags JOIN runs ON runs.id = tags.run_id WHERE tags.name = ?"
            " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = ?)",
            (ref, ref),
        ).fetchone()
        if tagged is not None:
            return self._with_progress(tagged)
        labelled = self.db.execute(
            "SELECT * FROM runs WHERE label = ? AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = ?)"
            " ORDER BY started_at DESC",
            (ref, ref),
        ).fetchall()
        if len(labelled) > 1:
            raise StoreError(
                f"label {ref!r} names {len(labelled)} runs ({', '.join(r['id'] for r in labelled[:5])}); use a run id or a tag"
            )
        if labelled:
            return self._with_progress(labelled[0])
        if ref == "latest":
            rows = self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM runs WHERE id = ? OR id LIKE ?", (ref, ref + "%")).fetchall()
        if not rows:
            raise StoreError(f"no run {ref!r} in {self.path}")
        exact = [r for r in rows if r["id"] == ref]
        if len(rows) > 1 and not exact:
            raise StoreError(f"run id {ref!r} is ambiguous: {', '.join(r['id'] for r in rows[:5])}")
        return self._with_progress(exact[0] if exact else rows[0])

    def list_runs(self, spec_name: str | None = None, target: str | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally of one spec name and/or target."""
        where, args = [], []
        for column, value in (("spec_name", spec_name), ("target", target)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started_at DESC"
        return [self._with_progress(r) for r in self.db.execute(sql, args).fetchall()]

    def series(self, spec_name: str, target: str, status: str | None = "complete") -> list[RunRecord]:
        """Runs of one spec and target (only those in ``status`` unless it is None), newest first."""
        sql = "SELECT * FROM runs WHERE spec_name = ? AND target = ?" + (" AND status = ?" if status else "")
        args = (spec_name, target, status) if status else (spec_name, target)
        rows = self.db.execute(sql + " ORDER BY started_at DESC, rowid DESC", args).fetchall()
        return [self._with_progress(r) for r in rows]

    def set_label(self, run_id: str, label: str | None) -> None:
        """Name a run (``--label v2.1``); None removes the label."""
        self.db.execute("UPDATE runs SET label = ? WHERE id = ?", (label, run_id))

    def tag_target(self, name: str) -> str | None:
        """The id of the run a tag points at, if the tag exists."""
        row = self.db.execute("SELECT run_id FROM tags WHERE name = ?", (name,)).fetchone()
        return row[0] if row is not None else None

    def set_tag(self, name: str, run_id: str) -> None:
        """Point tag ``name`` at a run, creating or moving it (callers check before moving)."""
        self.db.execute(
            "INSERT OR REPLACE INTO tags (name, run_id, created_at) VALUES (?, ?, ?)", (name, run_id, time.time())
        )

    def done_indexes(self, run_id: str) -> set[int]:
        """Indexes of examples already stored for a run."""
        return {r[0] for r in self.db.execute("SELECT idx FROM examples WHERE run_id = ?", (run_id,))}

    def save_examples(
        self, run_id: str, records: Sequence[ExampleRecord], cache: Iterable[tuple[str, Generation]]
    ) -> None:
        """Write a batch of examples, their scores and new cache entries in one transaction."""
        with self.db.transaction():
            for r in records:
                self.db.execute(
                    "INSERT INTO examples (run_id, idx, prompt_json, gold, output, parse_ok, parsed_json, parse_error,"
                    " latency_s, prompt_tokens, completion_tokens, cost_usd, cached, queue_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        r.idx,
                        _dumps(r.prompt),
                        r.gold,
                        r.output,
                        int(r.parse_ok),
                        _dumps(r.parsed),
                        r.parse_error,
                        r.latency_s,
                        r.prompt_tokens,
                        r.completion_tokens,
                        r.cost_usd,
                        int(r.cached),
                        r.queue_s,
                    ),
                )
                self.db.executemany(
                    "INSERT INTO scores (run_id, idx, metric, value, detail, parts_json) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (run_id, r.idx, m, s.value, s.detail, _dumps(dict(s.parts)) if s.parts else None)
                        for m, s in r.scores.items()
                    ],
                )
            self._insert_responses(cache)

    def save_responses(self, cache: Iterable[tuple[str, Generation]]) -> None:
        """Write response-cache entries (key, ``Generation``) that belong to no run, in one transaction."""
        with self.db.transaction():
            self._insert_responses(cache)

    def _insert_responses(self, cache: Iterable[tuple[str, Generation]]) -> None:
        for key, gen in cache:
            self.db.execute(
                "INSERT OR REPLACE INTO responses (key, text, latency_s, prompt_tokens, completion_tokens, cost_usd,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, gen.text, gen.latency_s, gen.prompt_tokens, gen.completion_tokens, gen.cost_usd, time.time()),
            )

    def cached_responses(self, keys: Sequence[str]) -> dict[str, Generation]:
        """Cached generations for the given keys."""
        out: dict[str, Generation] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = self.db.execute(f"SELECT * FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            out.update(
                {
                    r["key"]: Generation(
                        r["text"], r["latency_s"] or 0.0, r["prompt_tokens"], r["completion_tokens"], r["cost_usd"]
                    )
                    for r in rows
                }
            )
        return out

    def scores(self, run_id: str) -> dict[str, dict[int, Score]]:
        """Per metric, each example's score by example index (in index order)."""
        out: dict[str, dict[int, Score]] = {}
        for r in self.db.execute("SELECT * FROM scores WHERE run_id = ? ORDER BY idx", (run_id,)):
            parts = json.loads(r["parts_json"]) if r["parts_json"] else {}
            out.setdefault(r["metric"], {})[r["idx"]] = Score(r["value"], r["detail"], parts)
        return out

    def examples(self, run_id: str, limit: int | None = None) -> list[ExampleRecord]:
        """Stored examples of a run with their scores, by index."""
        sql = "SELECT * FROM examples WHERE run_id = ? ORDER BY idx" + (f" LIMIT {int(limit)}" if limit else "")
        rows = self.db.execute(sql, (run_id,)).fetchall()
        scores: dict[int, dict[str, Score]] = {}
        for metric, per_example in self.scores(run_id).items():
            for idx, score in per_example.items():
                scores.setdefault(idx, {})[metric] = score
        return [
            ExampleRecord(
                idx=r["idx"],
                prompt=_loads(r["prompt_json"], {}),
                gold=r["gold"],
                output=r["output"],
                parse_ok=bool(r["parse_ok"]),
                parsed=_loads(r["parsed_json"]),
                parse_error=r["parse_error"],
                latency_s=r["latency_s"],
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                cost_usd=r["cost_usd"],
                cached=bool(r["cached"]),
                scores=scores.get(r["idx"], {}),
                queue_s=_get(r, "queue_s"),
            )
            for r in rows
        ]

    def finish_run(self, run_id: str, aggregates: Mapping[str, Aggregate]) -> None:
        """Store aggregates and mark the run complete."""
        with self.db.transaction():
            self.db.execute("DELETE FROM aggregates WHERE run_id = ?", (run_id,))
            self.db.executemany(
                "INSERT INTO aggregates (run_id, metric, value, ci_low, ci_high, n, method) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, m, a.value, a.ci_low, a.ci_high, a.n, a.method) for m, a in aggregates.items()],
            )
            self.db.execute("UPDATE runs SET status = 'complete', finished_at = ? WHERE id = ?", (time.time(), run_id))

    def aggregates(self, run_id: str) -> list[AggregateRecord]:
        """Aggregate metrics of a run, sorted by metric name."""
        rows = self.db.execute(
            "SELECT metric, value, ci_low, ci_high, n, method FROM aggregates WHERE run_id = ? ORDER BY metric",
            (run_id,),
        )
        return [AggregateRecord(*r) for r in rows]

    def run_totals(self, run_id: str) -> RunTotals:
        """Sums and means of latency, tokens and cost over a run's examples."""
        row = self.db.execute(
            "SELECT COUNT(*) n, AVG(latency_s) mean_latency_s, SUM(prompt_tokens) prompt_tokens,"
            " SUM(completion_tokens) completion_tokens, SUM(cost_usd) cost_usd, SUM(cached) cached,"
            " SUM(cost_usd IS NULL) unknown_cost, "
            + ("AVG(queue_s)" if "queue_s" in _columns(self.db, "examples") else "NULL")
            + " mean_queue_s FROM examples WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return RunTotals(
            row["n"],
            row["mean_latency_s"],
            row["prompt_tokens"],
            row["completion_tokens"],
            row["cost_usd"],
            row["cached"] or 0,
            row["unknown_cost"] or 0,
            row["mean_queue_s"],
        )

    def add_export(self, path: str, identity: str, run_id: str, job_id: str | None, kind: str) -> None:
        """Record a model folder written by ``fteval export-model`` from a run's job."""
        self.db.execute(
            "INSERT INTO exports (path, identity, run_id, job_id, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (path, identity, run_id, job_id, kind, time.time()),
        )

    def exports(self, *, run_id: str | None = None, identity: str | None = None) -> list[ExportRecord]:
        """Exports made from a run, or of a model identity, newest first."""
        column, value = ("run_id", run_id) if run_id is not None else ("identity", identity)
        if not self._has_table("exports"):
            return []  # a read-only store of an older schema
        rows = self.db.execute(
            f"SELECT * FROM exports WHERE {column} = ? ORDER BY created_at DESC", (value,)
        ).fetchall()
        return [
            ExportRecord(r["path"], r["identity"], r["run_id"], r["job_id"], r["kind"], r["created_at"]) for r in rows
        ]

    def _has_table(self, name: str) -> bool:
        found = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return found is not None
