"""Execution-accuracy throughput on the val split (568 gold-vs-gold pairs): fast path vs naive.

Run: PYTHONPATH=.:plugins python benchmarks/score_sql.py [--databases 5] [--processes N]

fast  = the execution_accuracy metric as a run uses it: a process pool over all cores, databases
        cached per (schema, gold) in each worker. "cold" is the first pass (pool start-up and
        every database built); "warm" scores the same pairs again, as when a second run is
        compared against the same gold.
naive = one process that rebuilds everything (schema parse, gold analysis, K databases) for
        every example.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fteval_sql.analysis import profile_query
from fteval_sql.execution import ExecSettings, Executor
from fteval_sql.metrics import ExecutionAccuracy
from fteval_sql.parser import SqlParser
from fteval_sql.schema import parse_schema

from fteval.plugin import Example, Prompt, ScoreItem

VAL = Path(__file__).resolve().parents[1] / "specs" / "data" / "sql" / "val.json"


def naive(rows: list[dict], settings: ExecSettings) -> tuple[float, float]:
    """(seconds, accuracy) of one process rebuilding the databases for every example."""
    start = time.perf_counter()
    correct = 0.0
    for row in rows:
        parse_schema.cache_clear()
        profile_query.cache_clear()
        executor = Executor(settings)
        correct += executor.evaluate(row["context"], row["answer"], row["answer"])[0]
        executor.close()
    return time.perf_counter() - start, correct / len(rows)


def main() -> None:
    """Time both paths and print examples/s and the ratio."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--databases", type=int, default=5)
    args.add_argument("--processes", type=int, default=None)
    opts = args.parse_args()
    rows = json.loads(VAL.read_text())
    parser = SqlParser()
    items = [
        ScoreItem(
            Example(i, r, Prompt(None, r["question"]), r["answer"]),
            r["answer"],
            parser.parse(r["answer"]),
            parser.parse(r["answer"]),
        )
        for i, r in enumerate(rows)
    ]
    config = ExecutionAccuracy.Config(databases=opts.databases, processes=opts.processes)
    metric = ExecutionAccuracy(config)
    try:
        start = time.perf_counter()
        cold = metric.score_many(items)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        metric.score_many(items)
        warm_s = time.perf_counter() - start
    finally:
        metric.close()
    parse_schema.cache_clear()
    profile_query.cache_clear()
    naive_s, naive_acc = naive(rows, ExecSettings(databases=opts.databases))
    n = len(rows)
    acc = sum(s.value for s in cold) / n
    print(f"execution_accuracy, val split: {n} gold-vs-gold pairs, K={opts.databases} databases")
    print(f"  naive (1 process, rebuild per example): {n / naive_s:8.1f} examples/s  (acc {naive_acc:.3f})")
    print(
        f"  fast, cold (pool + cache)             : {n / cold_s:8.1f} examples/s  (acc {acc:.3f})"
        f"  ratio {naive_s / cold_s:.2f}x"
    )
    print(f"  fast, warm (databases cached)         : {n / warm_s:8.1f} examples/s  ratio {naive_s / warm_s:.2f}x")


if __name__ == "__main__":
    main()
