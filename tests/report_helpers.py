"""Hand-made runs for report tests: written through the public Store API, with known figures."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fteval_testutil import SPECS

from fteval.analysis.stats import mean_with_ci
from fteval.plugin import Aggregate, Score
from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.records import ExampleRecord, NewRun
from fteval.storage.store import Store


@dataclass
class Row:
    """One example of a hand-made run."""

    gold: str
    output: str
    parse_ok: bool = True
    scores: dict[str, float] = field(default_factory=dict)
    latency_s: float | None = 0.1
    cost_usd: float | None = None
    user: str = "question"
    parsed: Any = None  # the parse's value; default: the output itself


def hand_made_run(
    store: Store,
    rows: Sequence[Row],
    *,
    spec_name: str = "hand",
    target: str = "t",
    parser: dict[str, Any] | None = None,
    metrics: Sequence[str] = ("exact_match",),
    baseline: bool = False,
    job_stats: dict[str, Any] | None = None,
    curve: Sequence[tuple[int, str, float]] = (),
) -> str:
    """Store a complete run with these examples (and a training job when ``job_stats`` or ``curve``)."""
    job_id = None
    if job_stats is not None or curve:
        job_id = store.start_job(f"job-{spec_name}-{target}", spec_name, target, "hf", "/tmp/w", {})
        store.update_job_stats(job_id, job_stats or {})
        for step, name, value in curve:
            store.log_job_metrics(job_id, step, {name: value})
        store.finish_job(job_id, "complete", {"trainer": "hf", "fingerprint": "fp"})
    parser = parser or {"name": "text"}
    run_id = store.create_run(
        NewRun(
            run_key=f"{spec_name}-{target}-{len(rows)}",
            spec_name=spec_name,
            spec_hash="0" * 64,
            spec={"metrics": list(metrics)},
            target=target,
            trainer="lookup" if baseline else "hf",
            generator="lookup",
            is_baseline=baseline,
            job_id=job_id,
            model_fingerprint=f"fp-{target}",
            generation={},
            config={"parser": parser, "metrics": {m: {} for m in metrics}},
            versions={"python": "3.11", "fteval": "0.1.0"},
            seed=0,
            n_examples=len(rows),
        )
    )
    records = [
        ExampleRecord(
            idx=i,
            prompt={"system": "Answer.", "user": r.user},
            gold=r.gold,
            output=r.output,
            parse_ok=r.parse_ok,
            parsed=(r.parsed if r.parsed is not None else r.output) if r.parse_ok else None,
            parse_error=None if r.parse_ok else "cannot parse",
            latency_s=r.latency_s,
            prompt_tokens=3,
            completion_tokens=1,
            cost_usd=r.cost_usd,
            cached=False,
            scores={m: Score(r.scores.get(m, 0.0), None if r.scores.get(m, 0.0) else "wrong") for m in metrics},
        )
        for i, r in enumerate(rows)
    ]
    store.save_examples(run_id, records, [])
    aggregates: dict[str, Aggregate] = {m: mean_with_ci([r.scores.get(m, 0.0) for r in rows]) for m in metrics}
    store.finish_run(run_id, aggregates)
    return run_id


def _viggo_spec(directory: Path, train_limit: int | None) -> Path:
    data = SPECS / "data" / "viggo"
    train = f"{{path: {data / 'train.csv'}{f', limit: {train_limit}' if train_limit else ''}}}"
    path = directory / f"viggo-{train_limit}.yaml"
    path.write_text(
        f"fteval: 1\nextends: {SPECS / 'base' / 'viggo.yaml'}\nname: rep\n"
        f"dataset:\n  train: {train}\n  valid: null\n"
        f"  eval: {{path: {data / 'train.csv'}, shuffle: true, seed: 1, limit: 150}}\n"
        "targets:\n  lookup: {trainer: lookup}\n",
        encoding="utf-8",
    )
    return path


def viggo_lookup_runs(home: Path) -> dict[str, Any]:
    """Real lookup runs on 150 ViGGO training rows: ``full`` memorised every row (right everywhere), ``tenth`` a
    tenth of them, ``half`` half."""
    store = Store(home / "runs.db")
    full = Engine(load_spec(_viggo_spec(home, None)), store, home).run("lookup")
    tenth = Engine(load_spec(_viggo_spec(home, 510)), store, home).run("lookup")
    half = Engine(load_spec(_viggo_spec(home, 2550)), store, home).run("lookup")
    store.close()
    return {"db": home / "runs.db", "home": home, "full": full, "tenth": tenth, "half": half}


def synthetic_viggo_rows(n: int, seed: int = 0) -> list[Row]:
    """``n`` ViGGO examples (gold MRs and sentences of the training file, cycled) with a model's kinds of error.

    About 70% are exact; the rest drop a slot, change the function, or are cut short (a parse failure).
    """
    from fteval_viggo.parser import ViggoParser

    with open(SPECS / "data" / "viggo" / "train.csv", encoding="utf-8", newline="") as f:
        pairs = [(r["mr"], r["ref"]) for r in csv.DictReader(f)]
    parser, rng, rows = ViggoParser(), random.Random(seed), []
    for i in range(n):
        gold, sentence = pairs[i % len(pairs)]
        roll = rng.random()
        if roll < 0.7:
            out = gold
        elif roll < 0.8:
            out = gold.split("(", 1)[0] + "(" + ", ".join(gold.split("(", 1)[1].rstrip(")").split("], ")[1:])
            out = out if out.endswith(")") else out + ")"
        elif roll < 0.9:
            out = "inform(" + gold.split("(", 1)[1] if not gold.startswith("inform(") else "request(" + gold[7:]
        else:
            out = gold[: len(gold) // 2]
        pred, gold_mr = parser.parse(out), parser.parse(gold)
        exact = float(pred.ok and pred.value == gold_mr.value)
        rows.append(
            Row(gold, out, pred.ok, {"exact_match": exact}, 0.05 + rng.random() / 10, None, sentence, pred.value)
        )
    return rows
