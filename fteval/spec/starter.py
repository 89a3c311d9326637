"""A starter spec from a data file: columns detected, a template, a parser and metrics for the task."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fteval.data.datasets import load_rows
from fteval.errors import DatasetError
from fteval.spec.model import Source

__all__ = ["TASKS", "Starter", "detect", "render_spec", "spec_name"]

TASKS = ("classification", "generation", "sql", "viggo")

#: Column names taken as the gold answer before falling back to the last column.
_TARGET_NAMES = ("label", "answer", "target", "mr", "output")
#: At most this many distinct gold values (and under half the rows) make a target a label set.
_MAX_LABELS = 20

_PARSERS = {
    "classification": None,  # choice with the detected labels
    "generation": "text",
    "sql": "sql",
    "viggo": "viggo",
}
_METRICS = {
    "classification": ["accuracy", "macro_f1", "format_rate"],
    "generation": ["exact_match", "char_exact"],
    "sql": ["char_exact", "normalized_match", "execution_accuracy", "valid_sql_rate"],
    "viggo": ["char_exact", "exact_match", "function_accuracy", "slot_precision", "slot_recall", "slot_f1"],
}


@dataclass(frozen=True)
class Starter:
    """What was detected in the data file."""

    data: Path
    columns: list[str]
    input: str
    target: str
    task: str
    labels: list[str]
    rows: int


def _target_column(columns: list[str]) -> str:
    lowered = {c.lower(): c for c in columns}
    for name in _TARGET_NAMES:
        if name in lowered:
            return lowered[name]
    return columns[-1]


def detect(data: Path, task: str | None = None) -> Starter:
    """Read ``data`` and pick the input and target columns, the task and (classification) the labels.

    Args:
        data: a CSV, JSON or JSONL file of rows.
        task: one of ``TASKS``; None: classification when the target has few distinct values, else generation.

    Returns:
        The detected columns, task and labels.

    Raises:
        DatasetError: the file cannot be read, has one column only, or (classification) too many labels.
    """
    rows = load_rows(Source(path=str(data)))
    columns = list(rows[0])
    if len(columns) < 2:
        raise DatasetError(f"{data}: needs at least two columns (an input and a target), found {columns}")
    target = _target_column(columns)
    others = [c for c in columns if c != target]
    # The input is the column with the most text: ids and short metadata columns lose.
    input_col = max(others, key=lambda c: sum(len(str(r[c])) for r in rows))
    if task == "sql" and "context" in others and "question" in others:
        input_col = "question"  # the schema (context) goes in the system message
    counts = Counter(str(r[target]).strip() for r in rows)
    few = len(counts) <= _MAX_LABELS and len(counts) < max(2, len(rows) / 2)
    if task is None:
        task = "classification" if few else "generation"
    labels = sorted(counts, key=lambda v: (-counts[v], v)) if task == "classification" else []
    if task == "classification" and not few:
        raise DatasetError(
            f"{data}: column {target!r} has {len(counts)} distinct values in {len(rows)} rows; "
            "too many for labels (use --task generation)"
        )
    return Starter(data, columns, input_col, target, task, labels, len(rows))


def _q(value: str) -> str:
    """A YAML flow scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _var(column: str) -> str:
    return f"{{{{ {column} }}}}"


def render_spec(found: Starter, spec_path: Path, name: str) -> str:
    """The starter spec's YAML text for ``found``, with paths relative to ``spec_path``'s folder."""
    data = Path(os.path.relpath(found.data.resolve(), spec_path.resolve().parent)).as_posix()
    system: str | None
    if found.task == "classification":
        parser = f"{{name: choice, labels: [{', '.join(_q(x) for x in found.labels)}]}}"
        system = f"Answer with one of: {', '.join(found.labels)}."
        max_new = max(4, max(len(x) for x in found.labels) // 2 + 4)
    else:
        parser, max_new = str(_PARSERS[found.task]), 128
        system = {
            "generation": None,
            "sql": "Write the SQL query that answers the question.",
            "viggo": "Give the meaning representation of the sentence as a single function with attributes.",
        }[found.task]
    if found.task == "sql" and "context" in found.columns and found.input != "context":
        system = f"{system}\n\n### Context:\n{_var('context')}"
    lines = [
        "# yaml-language-server: $schema=spec.schema.json",
        f"# A {found.task} task on {data} (written by fteval init; edit freely). Run it:",
        f"#   fteval run {spec_path.as_posix()}",
        "# The eval split is carved from the file (20% of the rows, disjoint from train, stable).",
        "fteval: 1",
        f"name: {name}",
        f"description: {_q(f'{found.task} of {found.target} from {found.input}')}",
        "dataset:",
        f"  train: {{path: {_q(data)}}}",
        "  eval: {from: train, fraction: 0.2, seed: 0}",
        "prompt:",
    ]
    if system:
        lines.append(f"  system: {_q(system)}")
    lines += [
        f"  user: {_q(_var(found.input))}",
        f"  target: {_q(_var(found.target))}",
        f"parser: {parser}",
        f"metrics: [{', '.join(_METRICS[found.task])}]",
        f"generation: {{max_new_tokens: {max_new}, temperature: 0}}",
        "targets:",
        "  lookup:  # memorises train prompt -> target, else answers the most frequent target",
        "    trainer: lookup",
        "  tiny:  # a 3.7M-parameter model trained from scratch on CPU, offline",
        "    trainer: hf",
        "    model: {init: scratch, preset: tiny}",
        "    train: {method: full, epochs: 4, lr: 1.0e-3, warmup_steps: 100, batch_size: 32}",
    ]
    return "\n".join(lines) + "\n"


def spec_name(data: Path) -> str:
    """A spec name from the data file's name (letters, digits, ``_.-``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", data.stem).strip("-.") or "task"
    return name if name[0].isalnum() else f"t{name}"
