"""The exception tree of fteval, and the ``file:line:col: key.path: message`` error record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FtevalError",
    "Issue",
    "SpecError",
    "DatasetError",
    "PluginError",
    "TemplateError",
    "StoreError",
    "UsageError",
]


@dataclass(frozen=True)
class Issue:
    """One problem in a spec, located in its source file."""

    file: Path | str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f":{self.line}:{self.col or 1}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class FtevalError(Exception):
    """Base of every error fteval reports to users (shown without a traceback)."""

    exit_code = 1


class SpecError(FtevalError):
    """A spec is invalid; carries every issue found, not just the first."""

    exit_code = 2

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class DatasetError(FtevalError):
    """A dataset cannot be read or lacks required columns."""


class PluginError(FtevalError):
    """A plugin is missing, broken, or needs an optional dependency."""


class TemplateError(FtevalError):
    """A prompt template failed to render for a row."""


class StoreError(FtevalError):
    """The run store is missing a run or is in an unexpected state."""


class UsageError(FtevalError):
    """A command was given something it cannot use: an unknown run, tag or metric, or runs that cannot be compared."""

    exit_code = 2
