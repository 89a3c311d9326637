"""The ``calls`` table of the run store: one row per model call of a pipeline step or a model-graded metric.

A row is keyed by (run, example index, step, call number), so a resumed run finds the calls it
already made and makes none of them again. Totals per example and statistics per step are read
back from here by ``fteval show``, ``compare`` and ``report``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fteval.plugin import Generation, Prompt

if TYPE_CHECKING:
    from fteval.storage.store import Store

__all__ = ["CallRecord", "StepStats", "load_calls", "save_calls", "step_stats"]


@dataclass(frozen=True)
class CallRecord:
    """One recorded model call: where it belongs (run, example, step, number), what went in and out, its cost."""

    run_id: str
    index: int
    step: str
    number: int
    purpose: str
    target: str
    cache_key: str
    prompt: Prompt
    generation: Generation
    cached: bool


@dataclass(frozen=True)
class StepStats:
    """Statistics of one step over a run: examples it ran on, calls, tokens, cost and latency per call."""

    step: str
    examples: int
    calls: int
    cached: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_s: float | None


def save_calls(store: Store, records: Iterable[CallRecord]) -> None:
    """Record calls in one transaction (a call already recorded at the same place is replaced)."""
    rows = [
        (
            r.run_id,
            r.index,
            r.step,
            r.number,
            r.purpose,
            r.target,
            r.cache_key,
            json.dumps({"system": r.prompt.system, "user": r.prompt.user}),
            r.generation.text,
            r.generation.latency_s,
            r.generation.prompt_tokens,
            r.generation.completion_tokens,
            r.generation.cost_usd,
            int(r.cached),
            time.time(),
        )
        for r in records
    ]
    if not rows:
        return
    with store.db.transaction():
        store.db.executemany(
            "INSERT OR REPLACE INTO calls (run_id, idx, step, call_no, purpose, target, cache_key, prompt_json, output,"
            " latency_s, prompt_tokens, completion_tokens, cost_usd, cached, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def load_calls(store: Store, run_id: str, indexes: Sequence[int] | None = None) -> list[CallRecord]:
    """A run's recorded calls (of some example indexes only, when given), by index, step order of recording, number."""
    sql = "SELECT * FROM calls WHERE run_id = ?"
    args: list[object] = [run_id]
    if indexes is not None:
        if not indexes:
            return []
        sql += f" AND idx IN ({','.join('?' * len(indexes))})"
        args += list(indexes)
    rows = store.db.execute(sql + " ORDER BY idx, created_at, rowid", args)
    out = []
    for r in rows:
        prompt = json.loads(r["prompt_json"])
        generation = Generation(
            r["output"], r["latency_s"] or 0.0, r["prompt_tokens"], r["completion_tokens"], r["cost_usd"]
        )
        out.append(
            CallRecord(
                r["run_id"],
                r["idx"],
                r["step"],
                r["call_no"],
                r["purpose"],
                r["target"],
                r["cache_key"],
                Prompt(prompt.get("system"), prompt["user"]),
                generation,
                bool(r["cached"]),
            )
        )
    return out


def step_stats(store: Store, run_id: str) -> list[StepStats]:
    """Per-step statistics of a run, steps in the order they first ran; empty for a run without recorded calls."""
    rows = store.db.execute(
        "SELECT step, COUNT(DISTINCT idx) examples, COUNT(*) calls, SUM(cached) cached,"
        " SUM(prompt_tokens) prompt_tokens, SUM(completion_tokens) completion_tokens, SUM(cost_usd) cost_usd,"
        " AVG(latency_s) latency_s, MIN(rowid) first FROM calls WHERE run_id = ? GROUP BY step ORDER BY first",
        (run_id,),
    )
    return [
        StepStats(
            r["step"],
            r["examples"],
            r["calls"],
            r["cached"] or 0,
            r["prompt_tokens"],
            r["completion_tokens"],
            r["cost_usd"],
            r["latency_s"],
        )
        for r in rows
    ]
