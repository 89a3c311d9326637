"""Concurrent fteval processes on one store: one trains or evaluates, the other waits and reuses; no traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from fteval_testutil import EXTERNAL_PLUGIN, FTEVAL, SPECS, fteval_run, wait_until

from fteval.storage.leases import Holder, try_acquire
from fteval.storage.store import Store

ROWS = 20  # specs/data/yesno/test.csv


def _spec(tmp_path: Path, delay_s: float = 0.0, train_delay_s: float = 0.0) -> Path:
    spec = tmp_path / "slow.yaml"
    spec.write_text(
        f"""fteval: 1
name: slow
dataset:
  train: {{path: {SPECS / "data/yesno/train.csv"}}}
  eval: {{path: {SPECS / "data/yesno/test.csv"}}}
prompt: {{user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: first_word
generation: {{batch_size: 2}}
targets:
  slow: {{trainer: delayed_lookup, model: {{delay_s: {delay_s}, train_delay_s: {train_delay_s}}}}}
"""
    )
    return spec


def _start(db: Path, *args: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen:
    env = {
        **os.environ,
        "COLUMNS": "250",
        "PYTHONPATH": os.pathsep.join([str(EXTERNAL_PLUGIN), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [*FTEVAL, "--store", str(db), *args], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
    )


def _query(db: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as con, con:
        return con.execute(sql).fetchall()


def _has_lease(db: Path, prefix: str) -> bool:
    try:
        return bool(_query(db, f"SELECT 1 FROM leases WHERE name LIKE '{prefix}%'"))
    except sqlite3.OperationalError:
        return False  # the store or its tables do not exist yet


def _wait_for_lease(db: Path, prefix: str, timeout: float = 60) -> None:
    wait_until(lambda: _has_lease(db, prefix), timeout, what=f"a {prefix} lease")


def _calls(out: str) -> int:
    return int(out.rsplit("model calls this invocation:", 1)[1].split()[0])


def test_identical_runs_started_together_give_one_run_and_no_traceback(tmp_path: Path) -> None:
    spec = _spec(tmp_path, delay_s=0.02)
    for round_ in range(3):
        db = tmp_path / f"r{round_}.db"
        procs = [_start(db, "run", str(spec)) for _ in range(2)]
        results = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err
            assert "Traceback" not in err
        assert sum(_calls(out) for out, _ in results) == ROWS, "each example is generated once"
        assert _query(db, "SELECT status FROM runs") == [("complete",)]
        assert _query(db, "SELECT COUNT(*), COUNT(DISTINCT idx) FROM examples") == [(ROWS, ROWS)]
        assert _query(db, "SELECT COUNT(*) FROM jobs") == [(1,)]
        assert _query(db, "SELECT COUNT(*) FROM leases") == [(0,)], "leases are released"


def test_second_run_waits_for_the_first_then_reuses_its_run(tmp_path: Path) -> None:
    db, spec = tmp_path / "runs.db", _spec(tmp_path, delay_s=0.5)  # 10 s: the second starts well before the end
    first = _start(db, "run", str(spec))
    _wait_for_lease(db, "run:")
    second = _start(db, "run", str(spec))
    wait_until(
        lambda: _query(db, "SELECT COUNT(*) FROM runs")[0][0], what="the first run's row"
    )  # it follows the lease
    readers = fteval_run("runs", store=db)
    assert readers.returncode == 0 and "running" in readers.stdout, "reading during a write works"
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert f"in progress in pid {first.pid}@" in err2 and "waiting for it to finish" in err2
    assert "reusing run slow-slow-" in err2
    assert (_calls(out1), _calls(out2)) == (ROWS, 0)
    assert _query(db, "SELECT COUNT(*), MIN(status) FROM runs") == [(1, "complete")]


def test_two_trainings_of_one_job_train_once(tmp_path: Path) -> None:
    db, spec = tmp_path / "runs.db", _spec(tmp_path, train_delay_s=6.0)
    first = _start(db, "train", str(spec))
    _wait_for_lease(db, "job:")
    second = _start(db, "train", str(spec))
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "training of 'slow' is in progress in pid" in err2 and "reusing job" in err2
    fits = list((tmp_path / "jobs").glob("*/fits.log"))
    assert len(fits) == 1 and fits[0].read_text().split() == [str(first.pid)], "trained exactly once"
    assert out1.split("model ")[1] == out2.split("model ")[1], "both report the same model"
    assert _query(db, "SELECT COUNT(*), MIN(status) FROM jobs") == [(1, "done")]


def test_a_killed_holder_is_noticed_at_once_and_the_waiter_resumes_its_run(tmp_path: Path) -> None:
    db, spec, log = tmp_path / "runs.db", _spec(tmp_path, delay_s=1.0), tmp_path / "second.err"
    first = _start(db, "run", str(spec))
    _wait_for_lease(db, "run:")
    with log.open("w") as second_err:
        second = _start(db, "run", str(spec), stderr=second_err)
        wait_until(
            lambda: "waiting for it to finish" in log.read_text() and _query(db, "SELECT COUNT(*) FROM examples")[0][0],
            what="the second process waiting and the first storing examples",
        )
        assert "waiting for it to finish" in log.read_text(), "the second process waits for the first"
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        killed_at, kept = time.monotonic(), _query(db, "SELECT COUNT(*) FROM examples")[0][0]
        out2, _ = second.communicate(timeout=120)
    assert second.returncode == 0, log.read_text()
    assert time.monotonic() - killed_at < 20, "a dead holder on this host is noticed by pid, not by lease expiry"
    assert 0 < kept < ROWS and _calls(out2) == ROWS - kept, "the waiter resumed the run, nothing repeated"
    assert _query(db, "SELECT COUNT(*), MIN(status) FROM runs") == [(1, "complete")]
    assert _query(db, "SELECT COUNT(*), COUNT(DISTINCT idx) FROM examples") == [(ROWS, ROWS)]


def test_leases_expire_across_hosts_and_are_shared_within_a_launch(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.db")
    elsewhere = Holder(pid=1, host="other-host")
    assert try_acquire(store.db, "job:k", elsewhere, ttl_s=0.3) is None
    me = Holder.current()
    assert try_acquire(store.db, "job:k", me, ttl_s=30) == elsewhere, "a live lease elsewhere is respected"
    time.sleep(0.4)  # the behaviour under test is time passing: the 0.3 s lease expires, nothing to wait on
    assert try_acquire(store.db, "job:k", me, ttl_s=30) is None, "an expired lease is taken over"
    rank0, rank1 = Holder(os.getpid(), "h", group="launch:r1"), Holder(os.getpid() + 1, "h", group="launch:r1")
    assert try_acquire(store.db, "job:g", rank0, ttl_s=30) is None
    assert try_acquire(store.db, "job:g", rank1, ttl_s=30) is None, "ranks of one launch share the lease"
    assert try_acquire(store.db, "job:g", Holder(os.getpid(), "h", group="launch:r2"), ttl_s=30) is not None
