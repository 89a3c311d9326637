"""The scoring pool's workers never outlive their owner: close, garbage collection, exit, SIGKILL."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fteval_sql.execution import ExecSettings
from fteval_sql.pool import ScoringPool
from fteval_sql.sandbox import Limits
from fteval_testutil import wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

CONTEXT = "CREATE TABLE singer (name VARCHAR, country VARCHAR, age INTEGER)"
GOLD = "SELECT name FROM singer WHERE country = 'France'"
# Jobs are sharded by (schema, gold): distinct golds spread a batch over the workers.
GOLDS = [f"SELECT name FROM singer WHERE age > {i}" for i in range(8)]
RUNAWAY = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"
# Puts the package under test first on the path of the scripts, as pytest has it.
PRELUDE = f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}\n"


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def running(pid: int) -> bool:
    """Whether ``pid`` is on a CPU or runnable (a worker in its query), not waiting for work."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_dead(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after up to ``seconds``."""
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not any(alive(p) for p in pids), seconds)
    return [p for p in pids if alive(p)]


def script(body: str) -> list[str]:
    """A python command running ``body`` with this test's import path."""
    return [sys.executable, "-c", PRELUDE + textwrap.dedent(body)]


def test_a_script_that_never_closes_the_metric_exits_promptly(val_rows) -> None:
    body = """
        import json
        from fteval.plugin import Example, Prompt, ScoreItem
        from fteval_sql.metrics import ExecutionAccuracy
        from fteval_sql.parser import SqlParser

        rows, parse = json.loads(sys.stdin.read()), SqlParser().parse
        metric = ExecutionAccuracy(ExecutionAccuracy.Config(processes=2))
        items = [
            ScoreItem(Example(i, r, Prompt(None, r["question"]), r["answer"]), r["answer"],
                      parse(r["answer"]), parse(r["answer"]))
            for i, r in enumerate(rows)
        ]
        print(sum(s.value for s in metric.score_many(items)), flush=True)
    """
    start = time.monotonic()
    out = subprocess.run(
        script(body),
        input=json.dumps(val_rows[:40]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 40.0
    assert time.monotonic() - start < 20


def test_a_script_stopped_mid_scoring_exits_without_finishing_the_work() -> None:
    # 24 queries of 1 s each on 2 workers: 12 s of work that a clean exit must not wait for.
    body = f"""
        import signal
        from fteval_sql.execution import ExecSettings
        from fteval_sql.pool import ScoringPool
        from fteval_sql.sandbox import Limits

        pool = ScoringPool(ExecSettings(databases=1, limits=Limits(timeout_s=1.0)), 2, 0)
        signal.signal(signal.SIGALRM, lambda *_: sys.exit("stopped"))
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        pool.run([({CONTEXT!r}, gold, {RUNAWAY!r}) for gold in {GOLDS!r} * 3])
        print("finished all the work")
    """
    start = time.monotonic()
    out = subprocess.run(script(body), capture_output=True, text=True, timeout=60, check=False)
    took = time.monotonic() - start
    assert out.returncode == 1 and "stopped" in out.stderr, out.stderr
    assert "finished" not in out.stdout
    assert took < 8, f"exit took {took:.1f} s"


@pytest.mark.parametrize("workers", ["idle", "busy"])
def test_killing_the_parent_ends_its_workers(workers: str) -> None:
    body = f"""
        from fteval_sql.execution import ExecSettings
        from fteval_sql.pool import ScoringPool
        from fteval_sql.sandbox import Limits

        pool = ScoringPool(ExecSettings(databases=1, limits=Limits(timeout_s=30.0)), 2, 0)
        pool.run([({CONTEXT!r}, gold, gold) for gold in {GOLDS!r}])
        print(*pool.pids(), flush=True)
        if {workers == "busy"!r}:
            pool.run([({CONTEXT!r}, gold, {RUNAWAY!r}) for gold in {GOLDS!r}])
        else:
            import time; time.sleep(60)  # idle workers: the parent waits until the test kills it
    """
    proc = subprocess.Popen(script(body), stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        if workers == "busy":  # let the busy workers get into their queries
            wait_until(lambda: all(running(p) for p in pids), 10, what="both workers running a query")
        proc.kill()
        proc.wait(timeout=10)
        assert wait_dead(pids, 5.0) == []
    finally:
        proc.kill()
        proc.wait()


def test_a_pool_dropped_without_close_stops_its_workers() -> None:
    pool = ScoringPool(ExecSettings(databases=1), 2, 0)
    assert pool.run([(CONTEXT, gold, gold) for gold in GOLDS]) == [(1.0, None)] * len(GOLDS)
    pids = pool.pids()
    assert len(pids) == 2 and all(alive(p) for p in pids)
    del pool
    gc.collect()
    assert wait_dead(pids, 5.0) == []


def test_close_stops_the_workers_and_a_closed_pool_starts_new_ones() -> None:
    pool = ScoringPool(ExecSettings(databases=1), 1, 0)
    pool.run([(CONTEXT, GOLD, GOLD)])
    first = pool.pids()
    pool.close()
    assert pool.pids() == [] and wait_dead(first, 5.0) == []
    assert pool.run([(CONTEXT, GOLD, GOLD)]) == [(1.0, None)]
    assert pool.pids() != first
    pool.close()


def test_a_worker_killed_mid_chunk_is_replaced_and_its_jobs_rescored() -> None:
    pool = ScoringPool(ExecSettings(databases=1, limits=Limits(timeout_s=0.4)), 1, 0)
    try:
        pool.run([(CONTEXT, GOLD, GOLD)])
        (victim,) = pool.pids()
        killer = threading.Timer(0.6, os.kill, (victim, signal.SIGKILL))
        killer.start()
        outcomes = pool.run([(CONTEXT, GOLD, f"{RUNAWAY} -- {i}") for i in range(4)])
        killer.join()
        assert outcomes == [(0.0, "timeout")] * 4
        assert pool.pids() and victim not in pool.pids()
    finally:
        pool.close()
