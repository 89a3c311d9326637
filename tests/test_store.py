"""The SQLite run store: migrations, WAL, transactions, run lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_testutil import make_run

from fteval.errors import StoreError
from fteval.plugin import Generation, Score
from fteval.storage.store import SCHEMA_VERSION, ExampleRecord, Store

pytestmark = pytest.mark.fast


def _record(idx: int) -> ExampleRecord:
    return ExampleRecord(idx, {"user": "q"}, "g", "o", True, "o", None, 0.1, 3, 1, None, False, {"m": Score(1.0)})


def test_migrations_apply_once_and_wal_is_on(tmp_path: Path) -> None:
    Store(tmp_path / "r.db").close()
    store = Store(tmp_path / "r.db")
    versions = [r[0] for r in store.db.execute("SELECT version FROM migrations")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run_id = make_run(store)
    store.save_examples(run_id, [_record(0)], [("key0", Generation("o", 0.1))])
    with pytest.raises(StoreError, match="UNIQUE constraint failed"):
        store.save_examples(run_id, [_record(1), _record(0)], [("key1", Generation("o", 0.1))])
    assert store.done_indexes(run_id) == {0}
    assert set(store.cached_responses(["key0", "key1"])) == {"key0"}


def test_get_run_by_prefix_latest_and_errors(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    a, b = make_run(store, "a"), make_run(store, "b")
    assert store.get_run(a).id == a and store.get_run("latest").id == b
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_run("s-t-")
    with pytest.raises(StoreError, match="no run"):
        store.get_run("zzz")


def test_jobs_keep_external_ids_and_curves(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    job = store.start_job("key", "s", "t", "openai", "/w", {"model": {}})
    store.set_job_external_id(job, "ftjob-123")
    store.log_job_metrics(job, 10, {"loss": 1.5})
    store.update_job_stats(job, {"wall_s": 3.0})
    assert store.start_job("key", "s", "t", "openai", "/w", {}) == job
    row = store.job("key")
    assert row.external_id == "ftjob-123" and row.status == "running"
    assert [(r.step, r.name, r.value) for r in store.job_curve(job)] == [(10, "loss", 1.5)]
