"""Worker processes that run execution checks; each keeps its own database cache.

Jobs are sharded by a stable hash of (schema, gold), one worker process per shard, so the same
gold always reaches the same worker and its cached databases, within a call and across calls.
Workers are owned outright (a process and a pipe each, no executor threads), so the pool can kill
them: on ``close``, when the pool is garbage-collected, at interpreter exit, and, inside each
worker, when the parent process dies.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import weakref
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait

from fteval_sql.datagen import stable_seed
from fteval_sql.execution import ExecSettings, Executor
from fteval_sql.lifeline import die_with_parent
from fteval_sql.sandbox import set_memory_cap

Job = tuple[str, str, str]  # (context, gold, pred)
Outcome = tuple[float, str | None]
CHUNKS_PER_WORKER = 4
CRASHED: Outcome = (0.0, "worker crashed")


def evaluate_safely(executor: Executor, job: Job) -> Outcome:
    """``executor.evaluate`` that turns any unexpected error into a zero score with its reason."""
    try:
        return executor.evaluate(*job)
    except MemoryError:
        return 0.0, "memory cap"
    except Exception as err:  # untrusted input must never stop a run
        return 0.0, f"internal error: {type(err).__name__}: {err}"


def _serve(conn: Connection, settings: ExecSettings, memory_bytes: int, parent_pid: int) -> None:
    """Worker loop: receive a chunk of jobs, send back their outcomes, until the pipe closes."""
    die_with_parent(parent_pid)
    if memory_bytes > 0:
        set_memory_cap(memory_bytes)
    executor = Executor(settings)
    while True:
        try:
            jobs = conn.recv()
        except (EOFError, OSError):
            return
        conn.send([evaluate_safely(executor, job) for job in jobs])


def _context() -> multiprocessing.context.ForkContext | multiprocessing.context.SpawnContext:
    """fork where it exists: no re-import of the caller's ``__main__``, so plain scripts work."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, settings: ExecSettings, memory_bytes: int) -> None:
        ctx = _context()
        self.conn, child = ctx.Pipe()
        # daemon: multiprocessing's own exit hook kills it too, should every other hook be skipped.
        self.process = ctx.Process(target=_serve, args=(child, settings, memory_bytes, os.getpid()), daemon=True)
        self.process.start()
        child.close()

    def stop(self) -> None:
        """Kill the process (it holds only caches) and release the pipe."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _stop_all(workers: list[_Worker | None]) -> None:
    """Stop every worker in ``workers``; the finalizer's callback, so it must not hold the pool."""
    for shard, worker in enumerate(workers):
        workers[shard] = None
        if worker is not None:
            worker.stop()


class ScoringPool:
    """Scores jobs over ``processes`` workers, each owning a fixed shard of (schema, gold) keys.

    Call ``close`` to stop the workers; a pool that is never closed stops them when it is
    garbage-collected or when the interpreter exits, and the workers end themselves when this
    process dies.
    """

    def __init__(self, settings: ExecSettings, processes: int, memory_bytes: int) -> None:
        self.settings = settings
        self.processes = max(1, processes)
        self.memory_bytes = memory_bytes
        self._workers: list[_Worker | None] = [None] * self.processes
        self._finalizer = weakref.finalize(self, _stop_all, self._workers)

    def pids(self) -> list[int]:
        """Process ids of the running workers."""
        return [w.process.pid for w in self._workers if w is not None and w.process.pid]

    def _worker(self, shard: int) -> _Worker:
        """The shard's worker, started (again) when it is missing or has died."""
        worker = self._workers[shard]
        if worker is not None and not worker.process.is_alive():
            self._drop(shard)
            worker = None
        if worker is None:
            worker = self._workers[shard] = _Worker(self.settings, self.memory_bytes)
        return worker

    def _drop(self, shard: int) -> None:
        worker, self._workers[shard] = self._workers[shard], None
        if worker is not None:
            worker.stop()

    def _send(self, shard: int, jobs: list[Job]) -> bool:
        """Hand ``jobs`` to the shard's worker; False when it cannot take them."""
        try:
            self._worker(shard).conn.send(jobs)
        except OSError:  # the worker died between the liveness check and the send
            self._drop(shard)
            return False
        return True

    def _receive(self, shard: int) -> list[Outcome] | None:
        """The outcomes of the chunk the shard's worker holds; None when the worker died."""
        worker = self._workers[shard]
        try:
            if worker is not None and worker.conn.poll():
                outcomes: list[Outcome] = worker.conn.recv()
                return outcomes
        except (EOFError, OSError):
            pass
        self._drop(shard)
        return None

    def _scatter(
        self, jobs: Sequence[Job], shards: list[list[int]]
    ) -> tuple[list[Outcome | None], list[tuple[int, int]]]:
        """Run every shard's chunks on its worker; (outcomes, (shard, job) pairs of lost chunks)."""
        size = max(1, math.ceil(len(jobs) / (self.processes * CHUNKS_PER_WORKER)))
        queued = {
            shard: deque(indices[start : start + size] for start in range(0, len(indices), size))
            for shard, indices in enumerate(shards)
            if indices
        }
        results: list[Outcome | None] = [None] * len(jobs)
        lost: list[tuple[int, int]] = []
        running: dict[int, list[int]] = {}

        def feed(shard: int) -> None:
            while queued[shard] and shard not in running:
                chunk = queued[shard].popleft()
                if self._send(shard, [jobs[i] for i in chunk]):
                    running[shard] = chunk
                else:
                    lost.extend((shard, i) for i in chunk)

        for shard in queued:
            feed(shard)
        while running:
            by_handle: dict[object, int] = {}
            for shard in running:
                worker = self._workers[shard]
                assert worker is not None
                by_handle[worker.conn] = by_handle[worker.process.sentinel] = shard
            handles: list[Connection | int] = [h for h in by_handle if isinstance(h, Connection | int)]
            for shard in {by_handle[h] for h in wait(handles)}:
                chunk = running.pop(shard)
                outcomes = self._receive(shard)
                if outcomes is None:
                    lost.extend((shard, i) for i in chunk)
                else:
                    for i, outcome in zip(chunk, outcomes, strict=False):
                        results[i] = outcome
                feed(shard)
        return results, lost

    def _run_one(self, shard: int, job: Job) -> Outcome | None:
        """One job on the shard's worker; None when the worker died on it."""
        if not self._send(shard, [job]):
            return None
        worker = self._workers[shard]
        assert worker is not None
        wait([worker.conn, worker.process.sentinel])
        outcomes = self._receive(shard)
        return None if outcomes is None else outcomes[0]

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Outcomes in job order; a crashed worker scores its jobs 0 and is restarted.

        Args:
            jobs: (context, gold, pred) triples.

        Returns:
            (score, detail) per job.

        Raises:
            RuntimeError: The workers die on the first three jobs retried one at a time.
        """
        shards: list[list[int]] = [[] for _ in range(self.processes)]
        for i, (context, gold, _) in enumerate(jobs):
            shards[stable_seed(context, gold) % self.processes].append(i)
        results, retry = self._scatter(jobs, shards)
        crashes = 0
        for n, (shard, i) in enumerate(retry):  # one at a time: only the job that kills a worker is lost
            outcome = self._run_one(shard, jobs[i])
            results[i] = outcome or CRASHED
            if outcome is None:
                crashes += 1
                if crashes == n + 1 == 3:
                    raise RuntimeError(
                        "the scoring worker processes keep dying; set execution_accuracy's "
                        "processes: 0 to score in the main process"
                    )
        return [r if r is not None else CRASHED for r in results]

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        _stop_all(self._workers)
