"""Real free-form runs for the ratings and text-metric tests: ViGGO data-to-text with the lookup baseline."""

from __future__ import annotations

from pathlib import Path

from fteval_testutil import SPECS

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store


def d2t_spec(directory: Path, train_limit: int | None, eval_limit: int = 60) -> Path:
    """ViGGO reversed (MR -> sentence) with the lookup baseline, evaluated on training rows.

    Trained on every row, lookup answers each eval MR with one of its memorised sentences; trained
    on ``train_limit`` rows it answers most MRs with the most frequent sentence.
    """
    data = SPECS / "data" / "viggo" / "train.csv"
    limit = f", limit: {train_limit}" if train_limit else ""
    path = directory / f"d2t-{train_limit}-{eval_limit}.yaml"
    path.write_text(
        "fteval: 1\nname: d2t\nparser: text\nmetrics: [bleu, chrf, rouge_l]\n"
        'prompt: {system: "Write one sentence\\nfor this meaning representation.", user: "{{ mr }}", target: "{{ ref }}"}\n'
        f"dataset:\n  train: {{path: {data}{limit}}}\n  eval: {{path: {data}, limit: {eval_limit}}}\n"
        "targets:\n  lookup: {trainer: lookup}\n",
        encoding="utf-8",
    )
    return path


def d2t_lookup_runs(home: Path, eval_limit: int = 60) -> tuple[Path, str, str]:
    """A store with two complete lookup runs on the same examples: (store path, weak run id, full run id)."""
    db = home / "runs.db"
    store = Store(db)
    try:
        weak, full = (Engine(load_spec(d2t_spec(home, n, eval_limit)), store, home).run("lookup") for n in (30, None))
    finally:
        store.close()
    return db, weak, full
