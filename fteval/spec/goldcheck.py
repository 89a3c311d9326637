"""Gold answers the spec's parser rejects (they could only ever score 0), and the gold label distribution.

``load_spec`` (so ``validate``) checks ``VALIDATE_ROWS`` rows of each file split, spread evenly from the
first row to the last, so it stays fast on large files (specs sharing data, target template and parser are checked once per process);
``run``, ``train`` and ``eval`` check every row of every split before anything is trained or called.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fteval.errors import TemplateError
from fteval.plugin import Parsed, Parser

if TYPE_CHECKING:
    from fteval.spec.loader import LoadedSpec

__all__ = ["VALIDATE_ROWS", "GoldCheck", "check_gold", "gold_problems", "sample_indexes"]

#: Rows per split that ``validate`` renders and parses (spread evenly over the split; ``run`` checks all).
VALIDATE_ROWS = 300
_SHOWN = 5
# Checks done in this process; a file changed under a running process is not a case validate has.
_DONE: dict[tuple[str, ...], GoldCheck] = {}


@dataclass
class GoldCheck:
    """One split's gold answers: how many were checked, which failed to parse (row, reason), label counts."""

    split: str
    origin: str
    checked: int = 0
    total: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)

    def message(self, parser: str) -> str:
        """The issue text: how many were rejected, the first rows, two reasons, what it means."""
        rows = ", ".join(str(row) for row, _ in self.failures[:_SHOWN])
        more = ", ..." if len(self.failures) > _SHOWN else ""
        reasons = "; ".join(f"row {row}: {reason}" for row, reason in self.failures[:2])
        sample = f" (a sample of {self.checked:,} of {self.total:,} rows)" if self.checked < self.total else ""
        if len(self.failures) == self.checked:
            outcome = "every example would score 0: fix the gold labels or the parser's options"
        else:
            outcome = "those examples will always score 0"
        return (
            f"{len(self.failures):,} of {self.checked:,} gold answers{sample} in {self.origin} are rejected by parser"
            f" {parser!r} (data rows {rows}{more}): {reasons}; {outcome}"
        )

    def distribution(self) -> str:
        """``yes 10 (50.0%), no 10 (50.0%)``: the gold labels, most frequent first."""
        n = sum(self.labels.values())
        return ", ".join(f"{label} {count} ({count / n:.1%})" for label, count in self.labels.most_common())


def _is_classification(parser: Parser) -> bool:
    """A parser with a fixed label set (``labels`` in its config, like ``choice``)."""
    return isinstance(getattr(parser.config, "labels", None), list | tuple)


def _parse(parser: Parser, text: str) -> Parsed:
    try:
        return parser.parse(text)
    except Exception as exc:  # a parser bug is reported as this row's failure, as the engine does
        return Parsed.fail(f"the parser raised {type(exc).__name__}: {exc}")


def sample_indexes(total: int, max_rows: int | None) -> range | list[int]:
    """Up to ``max_rows`` row indexes spread evenly over ``total`` rows, first and last included (all: None)."""
    if max_rows is None or total <= max_rows:
        return range(total)
    if max_rows <= 1:
        return list(range(max_rows))
    step = (total - 1) / (max_rows - 1)
    return sorted({round(i * step) for i in range(max_rows)})


def check_gold(
    loaded: LoadedSpec, max_rows: int | None = None, *, files_only: bool = False, reuse: bool = False
) -> list[GoldCheck]:
    """Render and parse the gold answer of each row of every split.

    Args:
        loaded: the validated spec (with its parser).
        max_rows: check at most this many rows per split, spread evenly (None: all).
        files_only: skip hub splits (``validate`` never downloads).
        reuse: reuse the result of an identical check made earlier in this process (``validate`` of
            several specs sharing their data).

    Returns:
        One ``GoldCheck`` per split checked.

    Raises:
        DatasetError: a split cannot be read.
    """
    from fteval.data.datasets import Rows
    from fteval.data.splits import load_split
    from fteval.spec.templates import render

    spec = loaded.spec
    if loaded.parser is None:
        return []
    parser = loaded.parser.build()
    labelled = _is_classification(parser)
    checks = []
    for split in ("train", "valid", "eval"):
        source = getattr(spec.dataset, split)
        train = spec.dataset.train
        if source is None or (files_only and (source.hf is not None or (source.from_ and train and train.hf))):
            continue
        carved = f"{source.fraction:g} of train" if source.from_ else None
        origin = f"dataset.{split} ({source.path or carved or (source.hf.path if source.hf else split)})"
        config = loaded.parser.config.model_dump_json()
        limit_key = str(spec.limits.max_output_chars)
        key: tuple[str, ...] = (spec.dataset.model_dump_json(), split, spec.prompt.target, loaded.parser.name, config)
        key += (limit_key,)
        key += (str(max_rows),)
        if reuse and key in _DONE:
            checks.append(dataclasses.replace(_DONE[key], split=split, origin=origin))
            continue
        rows = load_split(spec.dataset, split) or Rows()
        check = GoldCheck(split, origin, total=len(rows))
        parsed_by_text: dict[str, Parsed] = {}  # a gold repeated across rows (labels) is parsed once
        for index in sample_indexes(len(rows), max_rows):
            number, row = index + 1, rows[index]
            check.checked += 1
            try:
                gold = render(spec.prompt.target, row, where=f"{origin} data row {number}: prompt.target")
            except TemplateError:
                check.checked -= 1  # not a parser problem: rendering reports it, with its row, where it runs
                continue
            if len(gold) > spec.limits.max_output_chars:
                check.checked -= 1  # a cost cap, not a parser problem: the run reports it per example
                continue
            if gold not in parsed_by_text:
                parsed_by_text[gold] = _parse(parser, gold)
            parsed = parsed_by_text[gold]
            if not parsed.ok:
                check.failures.append((number, str(parsed.error)))
            elif labelled:
                check.labels[str(parsed.value)] += 1
        checks.append(check)
        _DONE[key] = check
    return checks


def gold_problems(loaded: LoadedSpec, checks: list[GoldCheck]) -> list[tuple[tuple[str, str], str, bool]]:
    """(key path ``dataset.<split>``, message, whether every checked gold was rejected) per split with rejections."""
    name = loaded.parser.name if loaded.parser else "?"
    return [(("dataset", c.split), c.message(name), len(c.failures) == c.checked) for c in checks if c.failures]
