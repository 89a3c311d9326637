"""Worker processes that run execution checks; each keeps its own database cache.

Jobs are sharded by a stable hash of (schema, gold), one single-process pool per shard, so the
same gold always reaches the same worker and its cached databases, within a call and across calls.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from fteval_sql.datagen import stable_seed
from fteval_sql.execution import ExecSettings, Executor
from fteval_sql.sandbox import set_memory_cap

Job = tuple[str, str, str]  # (context, gold, pred)
Outcome = tuple[float, str | None]
CHUNKS_PER_WORKER = 4

_WORKER: Executor | None = None


def _init_worker(settings: ExecSettings, memory_bytes: int) -> None:
    global _WORKER
    if memory_bytes > 0:
        set_memory_cap(memory_bytes)
    _WORKER = Executor(settings)


def _run_chunk(jobs: Sequence[Job]) -> list[Outcome]:
    assert _WORKER is not None
    return [evaluate_safely(_WORKER, job) for job in jobs]


def evaluate_safely(executor: Executor, job: Job) -> Outcome:
    """``executor.evaluate`` that turns any unexpected error into a zero score with its reason."""
    try:
        return executor.evaluate(*job)
    except MemoryError:
        return 0.0, "memory cap"
    except Exception as err:  # untrusted input must never stop a run
        return 0.0, f"internal error: {type(err).__name__}: {err}"


def _context() -> multiprocessing.context.BaseContext:
    """fork where it exists: no re-import of the caller's ``__main__``, so plain scripts work."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class ScoringPool:
    """Scores jobs over ``processes`` workers, each owning a fixed shard of (schema, gold) keys."""

    def __init__(self, settings: ExecSettings, processes: int, memory_bytes: int) -> None:
        self.settings = settings
        self.processes = max(1, processes)
        self.memory_bytes = memory_bytes
        self._workers: list[ProcessPoolExecutor | None] = [None] * self.processes

    def _worker(self, shard: int) -> ProcessPoolExecutor:
        worker = self._workers[shard]
        if worker is None:
            worker = ProcessPoolExecutor(
                max_workers=1, mp_context=_context(), initializer=_init_worker,
                initargs=(self.settings, self.memory_bytes),
            )
            self._workers[shard] = worker
        return worker

    def _drop(self, shard: int) -> None:
        worker, self._workers[shard] = self._workers[shard], None
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Outcomes in job order; a crashed worker scores its jobs 0 and is restarted.

        Args:
            jobs: (context, gold, pred) triples.

        Returns:
            (score, detail) per job.
        """
        shards: list[list[int]] = [[] for _ in range(self.processes)]
        for i, (context, gold, _) in enumerate(jobs):
            shards[stable_seed(context, gold) % self.processes].append(i)
        size = max(1, math.ceil(len(jobs) / (self.processes * CHUNKS_PER_WORKER)))
        futures: list[tuple[int, list[int], Future]] = []
        for shard, indices in enumerate(shards):
            for start in range(0, len(indices), size):
                chunk = indices[start : start + size]
                futures.append((shard, chunk, self._worker(shard).submit(_run_chunk, [jobs[i] for i in chunk])))
        results: list[Outcome | None] = [None] * len(jobs)
        retry: list[tuple[int, int]] = []
        for shard, chunk, future in futures:
            try:
                for i, outcome in zip(chunk, future.result()):
                    results[i] = outcome
            except BrokenProcessPool:
                retry.extend((shard, i) for i in chunk)
        for shard in {shard for shard, _ in retry}:
            self._drop(shard)
        crashes = 0
        for n, (shard, i) in enumerate(retry):  # one at a time: only the job that kills a worker is lost
            try:
                results[i] = self._worker(shard).submit(_run_chunk, [jobs[i]]).result()[0]
            except BrokenProcessPool:
                results[i] = (0.0, "worker crashed")
                crashes += 1
                self._drop(shard)
                if crashes == n + 1 == 3:
                    raise RuntimeError(
                        "the scoring worker processes keep dying; set execution_accuracy's "
                        "processes: 0 to score in the main process"
                    ) from None
        return [r if r is not None else (0.0, "worker crashed") for r in results]

    def close(self) -> None:
        """Stop the workers."""
        for shard in range(self.processes):
            self._drop(shard)
