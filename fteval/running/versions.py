"""The versions behind a run: Python, fteval, and each plugin that ran with the libraries it declares."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

from fteval import registry
from fteval.plugin import _Plugin

__all__ = ["run_versions"]


def run_versions(plugins: Mapping[str, type[_Plugin]]) -> dict[str, object]:
    """Versions for a run's record; ``plugins`` maps ``kind.name`` to the classes that ran."""
    try:
        fteval_version = version("fteval")
    except PackageNotFoundError:
        fteval_version = "unknown"
    out: dict[str, object] = {"python": platform.python_version(), "fteval": fteval_version}
    found: dict[str, object] = {}
    for key, cls in sorted(plugins.items()):
        kind, _, name = key.partition(".")
        found[key] = registry.provenance(kind, name, cls)
    out["plugins"] = found
    return out
