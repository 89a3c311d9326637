"""Shared set-up of the hf benchmarks: ViGGO examples with the spec's prompts, a context."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fteval.plugin import Example, Prompt

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "specs" / "data"
REFERENCE = ROOT / "tests" / "data" / "reference"
# The reference experiment's ViGGO instruction (the system message of its OpenAI fine-tuning file).
VIGGO_SYSTEM = json.loads((REFERENCE / "viggo_validation.jsonl").open().readline())["messages"][0][
    "content"
]


def viggo_examples(split: str, prompt: str, limit: int | None = None) -> list[Example]:
    """ViGGO rows: ``reference`` = instruction (system) + sentence, ``short`` = sentence only."""
    with (DATA / "viggo" / f"{split}.csv").open() as f:
        rows = list(csv.DictReader(f))[:limit]
    system = VIGGO_SYSTEM if prompt == "reference" else None
    return [Example(i, r, Prompt(system, r["ref"]), r["mr"]) for i, r in enumerate(rows)]


class _Bar:
    def advance(self, n: int = 1, **fields: Any) -> None:
        pass


class BenchContext:
    """A TrainContext that keeps the recorded statistics and nothing else."""

    def __init__(
        self, train: list[Example], workdir: Path, valid: list[Example] | None = None
    ) -> None:
        self.target, self.train, self.valid, self.workdir, self.seed = (
            "bench",
            train,
            valid or [],
            workdir,
            0,
        )
        self.external_id = None
        self.stats: dict[str, Any] = {}

    def log(self, step: int, **values: float) -> None:
        pass

    def set_external_id(self, external_id: str) -> None:
        self.external_id = external_id

    def record(self, **stats: Any) -> None:
        self.stats.update(stats)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[_Bar]:
        yield _Bar()
