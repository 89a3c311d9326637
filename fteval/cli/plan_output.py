"""Printing ``fteval plan SPEC``: one block per target."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from fteval.cli.spec_warnings import print_warnings


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def print_spec_plan(spec: Path, targets: Sequence[str]) -> None:
    """Load ``spec`` (as validate does) and print each target's plan.

    Raises:
        FtevalError: the spec does not validate, or a named target is not in it.
    """
    from fteval.errors import FtevalError
    from fteval.loader import load_spec
    from fteval.planning import plan_spec

    loaded = load_spec(spec, gold_rows=0)
    print_warnings(loaded)
    unknown = [t for t in targets if t not in loaded.targets]
    if unknown:
        raise FtevalError(f"unknown target(s) {', '.join(unknown)}; the spec has: {', '.join(loaded.targets)}")
    click.echo(f"{spec}: estimates, before anything is trained or called")
    for plan in plan_spec(loaded, targets):
        click.echo(f"\n{plan.name} ({plan.trainer}; tokens: {plan.counter})")
        for split, size in plan.splits.items():
            click.echo(
                f"  {split:<5} {size.rows:>7,} rows  {size.prompt:>10,} prompt + {size.target:>9,} target tokens"
            )
        if plan.train_tokens is not None:
            click.echo(f"  training: {plan.train_tokens:,} tokens ({plan.epochs:g} epochs)")
        if plan.train_time_s is not None:
            click.echo(f"  training time: at least {_duration(plan.train_time_s)} (throughput bound; see notes)")
        if plan.train_cost_usd is not None:
            click.echo(f"  training cost: ~${plan.train_cost_usd:,.2f} (estimate)")
        if plan.steps:
            calls = sum(s.calls for s in plan.steps)
            tokens_in, tokens_out = (
                sum(s.prompt_tokens for s in plan.steps),
                sum(s.completion_tokens for s in plan.steps),
            )
            click.echo(
                f"  pipeline per question: {calls} calls, ~{tokens_in:,.0f} prompt + at most {tokens_out:,.0f} output tokens"
            )
            for s in plan.steps:
                cost = "" if s.cost_usd is None else f", ~${s.cost_usd:.6f}"
                extra = "".join(f"; {n}" for n in s.notes)
                click.echo(
                    f"    step {s.step} on {s.target}: {s.calls} call(s), ~{s.prompt_tokens:,.0f} + {s.completion_tokens:,.0f} tokens{cost}{extra}"
                )
        if plan.eval_cost_usd is not None:
            basis = "upper bound, see the pipeline note" if plan.steps else "estimate; outputs as long as the gold"
            click.echo(f"  eval inference cost: ~${plan.eval_cost_usd:,.4f} ({basis})")
        for note in plan.notes:
            click.echo(f"  note: {note}")
        for warning in plan.warnings:
            click.secho(f"  warning: {warning}", fg="yellow")
