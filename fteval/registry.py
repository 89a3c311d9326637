"""Plugin discovery through the ``fteval.plugins`` entry-point group, and lookup by kind and name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

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


def load(kind: str, name: str) -> type[_Plugin]:
    """Import and return the plugin class registered as ``kind.name``.

    Raises:
        PluginError: no such plugin (the message lists the installed ones), or it is broken.
    """
    info = discover().get((kind, name))
    if info is None:
        raise PluginError(f"unknown {kind} {name!r}; installed: {', '.join(names(kind)) or 'none'}")
    try:
        cls = info.entry_point.load()
    except ImportError as exc:
        raise PluginError(f"{kind} {name!r} failed to import ({info.entry_point.value}): {exc}") from exc
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{kind} {name!r} ({info.entry_point.value}) is not a {base.__name__} subclass")
    return cls
