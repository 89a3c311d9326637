"""Shared set-up of the hf benchmarks: ViGGO examples with the spec's prompts."""

from __future__ import annotations

import csv
from pathlib import Path

from fteval.plugin import Example
from fteval.spec.loader import load_spec
from fteval.testing import examples

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "specs" / "data"
# The reference experiment's ViGGO instruction (the system message of its OpenAI fine-tuning file).
VIGGO_SYSTEM: str = load_spec(ROOT / "specs" / "base" / "viggo.yaml").spec.prompt.system or ""


def viggo_rows(split: str, limit: int | None = None) -> list[dict[str, str]]:
    """The rows of a ViGGO split (the project's copy in specs/data)."""
    with (DATA / "viggo" / f"{split}.csv").open(newline="") as f:
        return list(csv.DictReader(f))[:limit]


def viggo_examples(split: str, prompt: str, limit: int | None = None) -> list[Example]:
    """ViGGO rows: ``reference`` = instruction (system) + sentence, ``short`` = sentence only."""
    system = VIGGO_SYSTEM if prompt == "reference" else None
    return examples(viggo_rows(split, limit), user="ref", target="mr", system=system)
