"""A damaged, foreign, read-only, full or newer store: a clear message naming the file, no traceback, nothing lost."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fteval_testutil import SPECS, CliResult, fteval_cli, fteval_run, make_run

from fteval.errors import StoreError
from fteval.plugin import Generation, Score
from fteval.storage.store import SCHEMA_VERSION, ExampleRecord, Store

YESNO, VIGGO = SPECS / "yesno.yaml", SPECS / "viggo.yaml"
IS_ROOT = os.geteuid() == 0


def _fails(result: subprocess.CompletedProcess | CliResult, *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one complete yesno run."""
    db = tmp_path_factory.mktemp("good") / "runs.db"
    assert fteval_run("run", str(YESNO), store=db).returncode == 0
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, so copies are complete
    return db


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "random bytes", "text"])
def test_a_damaged_or_foreign_file_is_reported_with_what_to_do(tmp_path: Path, good_store: Path, damage: str) -> None:
    db = tmp_path / "runs.db"
    shutil.copy(good_store, db)
    if damage == "truncated":
        with db.open("r+b") as f:
            f.truncate(db.stat().st_size // 3)
    elif damage == "overwritten":
        with db.open("r+b") as f:
            f.seek(4096)
            f.write(b"garbage!" * 1024)
    elif damage == "random bytes":
        db.write_bytes(os.urandom(5000))
    else:
        db.write_text("name,answer\nfoo,bar\n")
    before = _digest(db)
    for args in (["runs"], ["show", "latest"], ["run", str(YESNO)]):
        _fails(
            fteval_run(*args, store=db),
            f"{db} is not a readable fteval store",
            "restore it from a backup",
            "move it aside",
        )
    assert _digest(db) == before, "a damaged store is never written to"


def test_a_folder_as_the_store_is_reported(tmp_path: Path) -> None:
    _fails(
        fteval_run("runs", store=tmp_path),
        f"{tmp_path} is a folder, not a store file",
        f"--store {tmp_path / 'runs.db'}",
    )


@contextlib.contextmanager
def _read_only_folder(folder: Path) -> Iterator[str]:
    """Make ``folder`` read-only: a read-only mount as root (chmod does not stop root), else chmod."""
    if not IS_ROOT:
        os.chmod(folder / "runs.db", 0o444)
        os.chmod(folder, 0o555)
        try:
            yield "chmod"
        finally:
            os.chmod(folder, 0o755)
        return
    saved = folder.with_name(folder.name + "-saved")
    shutil.copytree(folder, saved)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True, check=False
    ).returncode:
        pytest.skip("running as root and cannot mount a read-only file system here")
    try:
        shutil.copytree(saved, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield "read-only mount"
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_store_can_be_read_and_refuses_writes(tmp_path: Path, good_store: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "runs.db"
    shutil.copy(good_store, db)
    with _read_only_folder(folder):
        before = _digest(db)
        listed = fteval_run("runs", store=db)
        assert listed.returncode == 0 and "complete" in listed.stdout, listed.stderr
        shown = fteval_run("show", "latest", store=db)
        assert shown.returncode == 0 and "gold:" in shown.stdout, shown.stderr
        again = fteval_run("run", str(YESNO), store=db)  # complete already: reading is all it needs
        assert again.returncode == 0 and "model calls this invocation: 0" in again.stdout, again.stderr
        _fails(fteval_run("run", str(VIGGO), "-t", "lookup", store=db), f"cannot write {db}", "Reading it works")
        assert _digest(db) == before


def test_a_full_disk_is_reported_and_the_run_resumes_once_there_is_space(tmp_path: Path) -> None:
    if not IS_ROOT:
        pytest.skip("needs root to mount a small tmpfs (test_a_full_database_file_... covers SQLITE_FULL)")
    folder = tmp_path / "small"
    folder.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder)], capture_output=True, check=False
    ).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = folder / "runs.db"
        full = fteval_run("run", str(VIGGO), "-t", "lookup", store=db)
        _fails(full, f"the disk holding {db} is full", "free some space")
        assert "cannot rollback" not in full.stderr
        subprocess.run(["mount", "-o", "remount,size=16m", str(folder)], check=True)
        done = fteval_run("run", str(VIGGO), "-t", "lookup", store=db)
        assert done.returncode == 0, done.stderr
        with contextlib.closing(sqlite3.connect(db)) as con, con:
            assert con.execute("SELECT COUNT(*), MIN(status) FROM runs").fetchall() == [(1, "complete")]
            n, n_examples = con.execute("SELECT COUNT(*), (SELECT n_examples FROM runs) FROM examples").fetchone()
        assert n == n_examples > 0
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _record(idx: int, size: int) -> ExampleRecord:
    return ExampleRecord(
        idx, {"user": "q"}, "g", "x" * size, True, "o", None, 0.1, 3, 1, None, False, {"m": Score(1.0)}
    )


def test_a_full_database_file_keeps_the_real_error_and_loses_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    run_id = make_run(store, n_examples=3)
    store.save_examples(run_id, [_record(0, 10)], [])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL, as on a full disk
    with pytest.raises(StoreError, match=r"the disk holding .*runs.db is full \(database or disk is full\)"):
        store.save_examples(run_id, [_record(1, 10), _record(2, 200_000)], [("key", Generation("o", 0.1))])
    assert store.done_indexes(run_id) == {0}, "the failed batch left nothing behind"
    store.save_examples(run_id, [_record(1, 10)], [])  # the store still works
    assert store.done_indexes(run_id) == {0, 1}


def _stamp_newer(db: Path, drop_column: str | None = None) -> None:
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute("INSERT INTO migrations VALUES (?, 0)", (SCHEMA_VERSION + 1,))
        if drop_column:
            con.execute(f"ALTER TABLE runs DROP COLUMN {drop_column}")


def test_a_store_of_a_newer_fteval_is_read_but_not_written(tmp_path: Path, good_store: Path) -> None:
    db = tmp_path / "runs.db"
    shutil.copy(good_store, db)
    _stamp_newer(db)
    listed = fteval_run("runs", store=db)
    assert listed.returncode == 0 and "complete" in listed.stdout, listed.stderr
    _fails(
        fteval_run("run", str(VIGGO), "-t", "lookup", store=db),
        f"cannot write {db}: it was written by a newer fteval (store schema version {SCHEMA_VERSION + 1};"
        f" this fteval writes version {SCHEMA_VERSION})",
        "upgrade fteval",
    )
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        assert con.execute("SELECT MAX(version) FROM migrations").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_newer_store_lacking_columns_we_read_is_refused(tmp_path: Path, good_store: Path) -> None:
    db = tmp_path / "runs.db"
    shutil.copy(good_store, db)
    _stamp_newer(db, drop_column="seed")
    _fails(
        fteval_run("runs", store=db),
        f"{db} was written by a newer fteval",
        "lacks columns this fteval reads (runs.seed)",
    )


@pytest.mark.parametrize("planted", ["dev-zero", "garbage"])
def test_a_restored_job_folder_with_a_planted_lookup_table_fails_clearly(tmp_path: Path, planted: str) -> None:
    """A cache restored in CI may hold anything in jobs/: read bounded, a clear error, no traceback (issue 27)."""
    data = tmp_path / "yesno"
    shutil.copytree(SPECS / "data" / "yesno", data)
    spec = tmp_path / "yesno.yaml"
    spec.write_text(YESNO.read_text().replace("data/yesno", str(data)))
    db = tmp_path / "store" / "runs.db"
    assert fteval_run("run", str(spec), store=db).returncode == 0
    (table,) = (tmp_path / "store").rglob("lookup.json")
    table.unlink()
    if planted == "dev-zero":
        table.symlink_to("/dev/zero")
    else:
        table.write_bytes(b"\x80not json")
    (data / "test.csv").write_text("question,answer\nIs a dog a mammal?,yes\n")  # a new run on the same job
    out = fteval_cli("run", str(spec), store=db, timeout=60)
    _fails(out, f"lookup table {table} is damaged", "delete the job folder to retrain")
