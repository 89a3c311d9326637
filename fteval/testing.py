"""Test helpers for plugin authors: a recording ``TrainContext`` and an ``Example`` builder.

Drive a trainer without the engine or a store, then assert on what it reported::

    ctx = RecordingTrainContext(examples([("2+2?", "4"), ("3+3?", "6")]), workdir=tmp_path)
    handle = MyTrainer(config).fit(ctx)
    assert ctx.stats["train_rows"] == 2 and ctx.bars[0].done == 2

This module imports nothing heavy (only ``fteval.plugin``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fteval.plugin import Example, ModelHandle, Prompt

if TYPE_CHECKING:
    from fteval.plugin import TrainContext

__all__ = ["RecordedBar", "RecordingTrainContext", "examples"]


@dataclass
class RecordedBar:
    """A progress bar that remembers its total, how far it went and the last fields shown."""

    total: int | None
    description: str
    done: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    closed: bool = False

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Move forward ``n`` steps and remember ``fields``."""
        self.done += n
        self.fields = dict(fields)


class RecordingTrainContext:
    """A ``fteval.plugin.TrainContext`` that keeps everything a trainer reports, in memory.

    Attributes:
        logs: every ``log(step, **values)`` call as ``(step, values)``, in order.
        stats: the merged ``record(**stats)`` calls (later values win, as in the run store).
        external_ids: every id passed to ``set_external_id``, in order.
        bars: every progress bar handed out, in order.
    """

    def __init__(
        self,
        train: Sequence[Example] = (),
        valid: Sequence[Example] = (),
        workdir: Path | str | None = None,
        *,
        target: str = "t",
        seed: int = 0,
        external_id: str | None = None,
        init: ModelHandle | None = None,
    ) -> None:
        """Build a context.

        Args:
            train: the training examples the trainer sees.
            valid: the validation examples.
            workdir: the trainer's persistent directory (created if missing); by default a new
                temporary directory, which the caller removes.
            target: the target name.
            seed: the spec's seed.
            external_id: a remote job id from an earlier attempt, to test re-attaching.
            init: the model to train on top of (the spec's ``after``), to test continued training.
        """
        self.target, self.seed, self.external_id, self.init = target, seed, external_id, init
        self.train: Sequence[Example] = list(train)
        self.valid: Sequence[Example] = list(valid)
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp("-fteval"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.stats: dict[str, float | str] = {}
        self.external_ids: list[str] = []
        self.bars: list[RecordedBar] = []

    def log(self, step: int, **values: float) -> None:
        """Remember one point of the training curves."""
        self.logs.append((step, dict(values)))

    def set_external_id(self, external_id: str) -> None:
        """Remember the remote job id (and make it the current one)."""
        self.external_id = external_id
        self.external_ids.append(external_id)

    def record(self, **stats: float | str) -> None:
        """Merge job statistics into ``stats``."""
        self.stats.update(stats)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[RecordedBar]:
        """A ``RecordedBar`` appended to ``bars``; ``closed`` is set when the block exits."""
        bar = RecordedBar(total, description)
        self.bars.append(bar)
        try:
            yield bar
        finally:
            bar.closed = True

    def curve(self, name: str) -> list[tuple[int, float]]:
        """The logged ``(step, value)`` points of one curve, e.g. ``curve("loss")``."""
        return [(step, values[name]) for step, values in self.logs if name in values]


if TYPE_CHECKING:

    def _conforms(ctx: RecordingTrainContext) -> TrainContext:
        return ctx  # the type checker proves the class implements the protocol


def examples(
    items: Iterable[tuple[str, str] | tuple[str, str, str] | Mapping[str, Any]],
    *,
    user: str = "user",
    target: str = "target",
    system: str | None = None,
    rejected: str = "rejected",
) -> list[Example]:
    """Build ``Example``s from ``(user, target)`` pairs, ``(user, chosen, rejected)`` triples or rows.

    Args:
        items: ``(user message, target)`` pairs, preference triples ``(user message, preferred,
            rejected)``, or rows (mappings) whose ``user`` and ``target`` columns give the prompt
            and the gold answer (and a ``rejected`` column, if present, the rejected answer); a row
            is kept as ``Example.row``.
        user: the column holding the user message, for rows.
        target: the column holding the target, for rows.
        system: the system message of every prompt.
        rejected: the column holding the rejected answer, for rows.

    Returns:
        One example per item, indexed from 0.
    """
    out = []
    for i, item in enumerate(items):
        bad: str | None = None
        if isinstance(item, Mapping):
            row: Mapping[str, Any] = item
            text, gold = str(item[user]), str(item[target])
            bad = str(item[rejected]) if rejected in item else None
        else:
            text, gold = item[0], item[1]
            bad = item[2] if len(item) == 3 else None
            row = {user: text, target: gold} | ({rejected: bad} if bad is not None else {})
        out.append(Example(i, row, Prompt(system, text), gold, bad))
    return out
