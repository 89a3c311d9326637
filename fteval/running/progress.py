"""Progress for long work: a rich bar on a terminal, a plain line every few seconds otherwise (CI logs)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["console", "progress_bar", "progress_interval"]

console = Console(stderr=True)


def progress_interval() -> float:
    """Seconds between plain progress lines: ``$FTEVAL_PROGRESS_SECONDS``, default 10."""
    try:
        return max(0.05, float(os.environ.get("FTEVAL_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


def _fields(fields: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1, **fields: Any) -> None:
        info = _fields(fields)
        self.progress.update(self.task, advance=n, info=info) if info else self.progress.advance(self.task, n)


class _PlainBar:
    """Counts progress; a background thread prints it as one line every ``interval`` seconds.

    A thread (not ``advance``) prints, so a single call that takes minutes still shows the log is alive.
    """

    def __init__(self, total: int | None, description: str, stream: TextIO, interval: float) -> None:
        self.total, self.description, self.stream, self.interval = total, description, stream, interval
        self.done, self.info, self.start = 0, "", time.monotonic()
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="fteval-progress", daemon=True)

    def advance(self, n: int = 1, **fields: Any) -> None:
        self.done += n
        if fields:
            self.info = _fields(fields)

    def line(self) -> str:
        """The progress as text: count, percent, elapsed, ETA and fields."""
        elapsed = time.monotonic() - self.start
        parts = [f"{self.description}: {self.done}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            parts.append(f"{100 * self.done / self.total:.0f}%")
        parts.append(f"elapsed {_duration(elapsed)}")
        if self.total and 0 < self.done < self.total:
            parts.append(f"eta {_duration(elapsed / self.done * (self.total - self.done))}")
        if self.info:
            parts.append(self.info)
        return "  ".join(parts)

    def _print(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.lines += 1

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.lines:  # a long task ends with its final count; a quick one stays silent
            self._print()


@contextmanager
def progress_bar(total: int | None, description: str) -> Iterator[_Bar | _PlainBar]:
    """Progress on stderr: a rich bar on a terminal, else a plain line every ``progress_interval()`` seconds."""
    if not console.is_terminal:
        with _PlainBar(total, description, console.file, progress_interval()) as plain:  # type: ignore[arg-type]
            yield plain
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield _Bar(progress, progress.add_task(description, total=total, info=""))
