"""Plugin discovery through the ``fteval.plugins`` entry-point group, and lookup by kind and name."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Literal, overload

from fteval.errors import PluginError
from fteval.plugin import Generator, Metric, Parser, Trainer, _Plugin

GROUP = "fteval.plugins"
BASES: dict[str, type[_Plugin]] = {"trainer": Trainer, "generator": Generator, "parser": Parser, "metric": Metric}


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, before it is imported."""

    kind: str
    name: str
    entry_point: EntryPoint

    @property
    def package(self) -> str:
        """Distribution that registered it."""
        dist = self.entry_point.dist
        return dist.metadata["Name"] if dist else "?"

    @property
    def version(self) -> str:
        """Version of that distribution."""
        dist = self.entry_point.dist
        return dist.version if dist else "?"


@lru_cache(maxsize=1)
def discover() -> dict[tuple[str, str], PluginInfo]:
    """All registered plugins keyed by (kind, name); the first registration of a name wins."""
    found: dict[tuple[str, str], PluginInfo] = {}
    for ep in entry_points(group=GROUP):
        kind, _, name = ep.name.partition(".")
        if kind in BASES and name:
            found.setdefault((kind, name), PluginInfo(kind, name, ep))
    return found


def names(kind: str) -> list[str]:
    """Installed plugin names of one kind, sorted."""
    return sorted(name for k, name in discover() if k == kind)


@overload
def load(kind: Literal["trainer"], name: str) -> type[Trainer]: ...
@overload
def load(kind: Literal["generator"], name: str) -> type[Generator]: ...
@overload
def load(kind: Literal["parser"], name: str) -> type[Parser]: ...
@overload
def load(kind: Literal["metric"], name: str) -> type[Metric]: ...
@overload
def load(kind: str, name: str) -> type[_Plugin]: ...
def load(kind: str, name: str) -> type[_Plugin]:
    """Import and return the plugin class registered as ``kind.name``, typed by ``kind`` (``type[Parser]``).

    Raises:
        PluginError: no such plugin (the message lists the installed ones), or it is broken.
    """
    info = discover().get((kind, name))
    if info is None:
        close = difflib.get_close_matches(name, names(kind), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PluginError(f"unknown {kind} {name!r}{hint}; installed: {', '.join(names(kind)) or 'none'}")
    try:
        with install_hint(kind, name):
            cls = info.entry_point.load()
    except PluginError:
        raise
    except ImportError as exc:
        raise PluginError(f"{kind} {name!r} failed to import ({info.entry_point.value}): {exc}") from exc
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{kind} {name!r} ({info.entry_point.value}) is not a {base.__name__} subclass")
    return cls


def _normalise(dist_name: str) -> str:
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def _extra_providing(info: PluginInfo, module: str) -> str | None:
    """The extra of the plugin's distribution that requires ``module``'s distribution, if any."""
    dist = info.entry_point.dist
    if dist is None:
        return None
    wanted = _normalise(module.split(".")[0])
    for requirement in dist.requires or []:
        match = re.match(r"\s*([A-Za-z0-9_.-]+).*?extra\s*==\s*[\"']([^\"']+)[\"']", requirement)
        if match and _normalise(match[1]) == wanted:
            return match[2]
    return None


def hint_for(kind: str, name: str, module: str) -> str:
    """How to install a module a plugin needs: the extra of its distribution, or the module itself."""
    info = discover().get((kind, name))
    extra = _extra_providing(info, module) if info is not None else None
    if info is not None and extra is not None:
        return f"pip install '{info.package}[{extra}]'"
    return f"pip install {module.split('.')[0]}"


@contextmanager
def install_hint(kind: str, name: str) -> Iterator[None]:
    """Turn a missing module inside a plugin into a ``PluginError`` that says what to install."""
    try:
        yield
    except ModuleNotFoundError as exc:
        module = exc.name or "?"
        raise PluginError(
            f"{kind} {name!r} needs the Python module {module!r}, which is not installed: {hint_for(kind, name, module)}"
        ) from exc


def provenance(kind: str, name: str, cls: type[_Plugin]) -> dict[str, object]:
    """What ran: the plugin's distribution and version, and the versions of the libraries it declares."""
    info = discover().get((kind, name))
    libraries: dict[str, str] = {}
    for library in cls.libraries:
        try:
            libraries[library] = version(library)
        except PackageNotFoundError:
            continue
    return {
        "package": info.package if info else "?",
        "version": info.version if info else "?",
        "entry_point": info.entry_point.value if info else f"{cls.__module__}:{cls.__qualname__}",
        "libraries": libraries,
    }
