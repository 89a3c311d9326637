"""Progress bars (rich) for long work; quiet when not attached to a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1, **fields: Any) -> None:
        info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        self.progress.update(self.task, advance=n, info=info) if info else self.progress.advance(self.task, n)


@contextmanager
def progress_bar(total: int | None, description: str) -> Iterator[_Bar]:
    """A progress bar on stderr showing count, elapsed time, ETA and extra fields."""
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        yield _Bar(progress, progress.add_task(description, total=total, info=""))
