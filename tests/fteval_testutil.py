"""Shared test helpers: project paths, running the real CLI in a subprocess, a recording TrainContext."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fteval.plugin import Example

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
EXTERNAL_PLUGIN = ROOT / "tests" / "fixtures" / "external_plugin"
FTEVAL = [sys.executable, "-m", "fteval"]


def fteval_cli(
    *args: str, store: Path, extra_path: Path | None = None, timeout: float = 300, env_extra: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess:
    """Run the real ``fteval`` CLI in a subprocess (``env_extra``: variables added to its environment)."""
    env = {**os.environ, "COLUMNS": "250", **(env_extra or {})}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run([*FTEVAL, "--store", str(store), *args], capture_output=True, text=True, env=env, timeout=timeout, **kw)




class Bar:
    """A progress bar that remembers how far it went."""

    def __init__(self, total: int | None) -> None:
        self.total, self.done, self.fields = total, 0, {}

    def advance(self, n: int = 1, **fields: Any) -> None:
        self.done += n
        self.fields = fields


class RecordingContext:
    """A TrainContext that keeps everything the trainer reports (as the engine's store would)."""

    def __init__(
        self, train: list[Example], valid: list[Example], workdir: Path, seed: int = 0
    ) -> None:
        self.target, self.train, self.valid, self.workdir, self.seed = (
            "t",
            train,
            valid,
            workdir,
            seed,
        )
        self.external_id: str | None = None
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.stats: dict[str, Any] = {}
        self.bars: list[Bar] = []

    def log(self, step: int, **values: float) -> None:
        self.logs.append((step, values))

    def set_external_id(self, external_id: str) -> None:
        self.external_id = external_id

    def record(self, **stats: Any) -> None:
        self.stats.update(stats)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Bar]:
        self.bars.append(Bar(total))
        yield self.bars[-1]

    def curve(self, name: str) -> list[tuple[int, float]]:
        return [(s, v[name]) for s, v in self.logs if name in v]
