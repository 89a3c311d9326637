"""Extra CLI commands from plugins: the ``fteval.commands`` entry-point group, loaded only when used or listed."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

import click

from fteval.errors import PluginError

__all__ = ["GROUP", "command_names", "load_command", "registered"]

GROUP = "fteval.commands"


@lru_cache(maxsize=1)
def registered() -> dict[str, EntryPoint]:
    """Registered commands by name; the first registration of a name wins."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def command_names() -> list[str]:
    """Names of the commands plugins register, sorted."""
    return sorted(registered())


def _broken(name: str, reason: str) -> click.Command:
    """A stand-in for a command that failed to load: listed as unavailable, fails with the reason when run."""

    def fail() -> None:
        raise PluginError(f"`fteval {name}` is unavailable: {reason}")

    return click.Command(
        name,
        callback=fail,
        short_help="(unavailable: run it to see why)",
        help=f"(unavailable: {reason})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def load_command(name: str) -> click.Command | None:
    """The command a plugin registers as ``name``; None when none does.

    A command whose module fails to import (or raises while importing), or that is not a
    ``click.Command``, is replaced by one
    that says why when run, so ``fteval --help`` still works.
    """
    ep = registered().get(name)
    if ep is None:
        return None
    try:
        command = ep.load()
    except Exception as exc:  # a missing module, or a plugin bug at import: --help must still work
        return _broken(name, f"{ep.value} failed to import: {type(exc).__name__}: {exc}")
    if not isinstance(command, click.Command):
        return _broken(name, f"{ep.value} is not a click command")
    return command
