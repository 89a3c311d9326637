"""Specs shipped in installed packages: ``extends: pkg:PACKAGE/FILE.yaml`` and ``fteval specs``.

A package ships specs in a ``specs/`` folder next to its ``__init__.py`` and registers the package
under the entry-point group ``fteval.specs`` (name: what ``pkg:`` uses; value: the package)::

    [project.entry-points."fteval.specs"]
    my_specs = "my_specs"

An importable package that is not registered is still found by its module name.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["GROUP", "PREFIX", "package_dir", "resolve_ref", "shipped_specs"]

GROUP = "fteval.specs"
PREFIX = "pkg:"


def _registered() -> dict[str, str]:
    """Registered spec packages: ``pkg:`` name -> package module."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def package_dir(name: str) -> Path | None:
    """The ``specs/`` folder of package ``name`` (registered name, else module name); None if not installed."""
    module = _registered().get(name, name)
    try:
        found = importlib.util.find_spec(module.split(":")[0])
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / "specs"


def resolve_ref(ref: str) -> Path:
    """The file a ``pkg:PACKAGE/FILE`` reference names.

    Raises:
        ValueError: a malformed reference, a package that is not installed, or a file it does not ship.
    """
    name, _, rel = ref[len(PREFIX) :].partition("/")
    if not name or not rel:
        raise ValueError(f"{ref!r}: write pkg:PACKAGE/FILE.yaml (`fteval specs` lists the shipped ones)")
    folder = package_dir(name)
    if folder is None:
        known = ", ".join(sorted(_registered())) or "none"
        raise ValueError(f"{ref!r}: no installed package {name!r} ships specs; packages with specs: {known}")
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        shipped = ", ".join(p.name for p in sorted(folder.glob("*.yaml"))) or "none"
        raise ValueError(f"{ref!r}: package {name!r} ships no spec {rel!r}; it ships: {shipped}")
    return path


def shipped_specs() -> list[tuple[str, Path]]:
    """Every registered package's specs as (``pkg:`` reference, file)."""
    out = []
    for name in sorted(_registered()):
        folder = package_dir(name)
        for path in sorted(folder.glob("*.yaml")) if folder is not None else ():
            out.append((f"{PREFIX}{name}/{path.name}", path))
    return out
