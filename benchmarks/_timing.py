"""Timing shared by the benchmarks: wall and CPU seconds of a block."""

from __future__ import annotations

import time
from typing import Self


class Clock:
    """Wall and process CPU seconds; on a loaded machine CPU time (1 thread) tracks the work done."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Self:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]
