"""A loaded spec's warnings on stderr, shared by the commands that load specs."""

from __future__ import annotations

import click


def print_warnings(loaded: object) -> None:
    """Print a loaded spec's warnings (e.g. a secret written in the spec) to stderr."""
    for issue in getattr(loaded, "warnings", ()):
        click.secho(f"warning: {issue}", fg="yellow", err=True)
