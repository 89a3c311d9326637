"""The regression-gate options shared by ``fteval compare``, ``fteval run --baseline`` and ``fteval report``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["alpha_option", "fail_if_worse_option"]

_PROBABILITY = click.FloatRange(0, 1, min_open=True, max_open=True)


def fail_if_worse_option(help_text: str) -> Callable[[Any], Any]:
    """``--fail-if-worse METRIC[=MAX_DROP]`` (repeatable), stored as ``gates``."""
    return click.option("--fail-if-worse", "gates", multiple=True, metavar="METRIC[=MAX_DROP]", help=help_text)


def alpha_option(help_text: str) -> Callable[[Any], Any]:
    """``--alpha`` (default 0.05): the significance level."""
    return click.option("--alpha", type=_PROBABILITY, default=0.05, show_default=True, help=help_text)
