"""Helpers for the ViGGO plugin tests: the real data set shipped in specs/data/viggo and ScoreItems."""

from __future__ import annotations

import csv
from pathlib import Path

from fteval_viggo.parser import ViggoParser

from fteval.plugin import Example, Prompt, ScoreItem

DATA = Path(__file__).resolve().parents[3] / "specs" / "data" / "viggo"
SPLITS = ("train", "valid", "test")


def read_rows(split: str) -> list[dict[str, str]]:
    """The rows (``mr``, ``ref``) of one split."""
    with open(DATA / f"{split}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def make_item(output: str, gold: str, parser: ViggoParser | None = None) -> ScoreItem:
    """A ScoreItem whose prediction and gold are parsed by the viggo parser."""
    parser = parser or ViggoParser()
    example = Example(index=0, row={"mr": gold}, prompt=Prompt(None, "sentence"), target=gold)
    return ScoreItem(example=example, output=output, pred=parser.parse(output), gold=parser.parse(gold))
