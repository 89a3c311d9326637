"""A run or lease whose process ended reads dead even when the system has given its pid to another process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fteval_testutil import make_run

from fteval.storage.leases import Holder, try_acquire
from fteval.storage.processes import HOST, alive, start_ticks
from fteval.storage.store import Store

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc/PID/stat")


@linux_only
def test_start_ticks_tell_one_process_from_another_with_the_same_pid() -> None:
    me = start_ticks(os.getpid())
    assert isinstance(me, int) and me == start_ticks(os.getpid())
    assert alive(os.getpid(), me) and alive(os.getpid())
    assert not alive(os.getpid(), me + 1), "same pid, different start: another process"
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not alive(int(child.stdout)), "an ended process is dead"
    assert start_ticks(int(child.stdout)) is None


def test_a_run_whose_pid_was_recycled_reads_interrupted(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    run_id = make_run(store)
    assert store.get_run(run_id).status == "running", "this process runs it"
    started = start_ticks(os.getpid())
    if started is None:
        pytest.skip("this system does not tell process start times")
    # the run's process ended and the system gave its pid to this (another) process
    store.db.execute("UPDATE runs SET pid_started = ? WHERE id = ?", (started - 1, run_id))
    assert store.get_run(run_id).status == "interrupted"


def test_a_store_from_before_start_times_still_uses_the_pid(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    run_id = make_run(store)
    store.db.execute("UPDATE runs SET pid_started = NULL WHERE id = ?", (run_id,))
    assert store.get_run(run_id).status == "running"


@linux_only
def test_a_lease_whose_pid_was_recycled_is_free(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    me = Holder.current()
    assert me.started is not None
    ghost = Holder(os.getpid(), HOST, started=me.started - 1)  # same pid, an earlier process
    assert try_acquire(store.db, "job:k", ghost, ttl_s=30) is None
    assert try_acquire(store.db, "job:k", me, ttl_s=30) is None, "the ghost's lease was taken over"
    live = Holder(os.getpid(), HOST, started=me.started)
    assert try_acquire(store.db, "job:k", live, ttl_s=30) == me, "a live holder with the same pid keeps it"
