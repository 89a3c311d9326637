"""``fteval plan``: a spec's rows, tokens, training time and cost per target, or the examples a comparison needs."""

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
    """Load ``spec`` (as validate does, gold answers unchecked) and print each target's plan.

    Raises:
        FtevalError: the spec does not validate, or a named target is not in it.
    """
    from fteval.errors import FtevalError
    from fteval.running.planning import plan_spec
    from fteval.spec.loader import load_spec

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
            bound = "at least " if plan.train_time_is_bound else ""
            why = " (throughput bound; see notes)" if plan.train_time_is_bound else ""
            click.echo(f"  training time: {bound}{_duration(plan.train_time_s)}{why}")
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


@click.command()
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@click.option(
    "--metric-value",
    type=click.FloatRange(0, 1),
    help="Expected value of the 0/1 metric (e.g. accuracy 0.8).",
)
@click.option("--difference", type=click.FloatRange(0, 1, min_open=True), help="Difference to detect (e.g. 0.02).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--power", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.8, show_default=True)
@click.option(
    "--discordance",
    type=click.FloatRange(0, 1, min_open=True),
    help="Share of examples on which the two models disagree [default: independent errors].",
)
@click.option("--target", "-t", "targets", multiple=True, help="With SPEC: plan this target only (repeatable).")
def plan(
    spec: Path | None,
    metric_value: float | None,
    difference: float | None,
    alpha: float,
    power: float,
    discordance: float | None,
    targets: tuple[str, ...],
) -> None:
    """Plan before spending: SPEC's rows, tokens, training time and cost per target; or eval examples needed.

    \b
    fteval plan SPEC: per target, rows and prompt/target tokens per split, training tokens x epochs,
    estimated training time (hf) or cost (API prices), the eval split's inference cost, warnings.
    fteval plan --metric-value P --difference D: eval examples needed to detect a difference in a
    0/1 metric between two models (paired, McNemar):
    n = (z(1-alpha/2) sqrt(p_d) + z(power) sqrt(p_d - d^2))^2 / d^2  (Connor 1987), where p_d, the
    share of examples the models disagree on, defaults to P(1-Q) + Q(1-P) with Q = P - d
    (independent errors). Related models disagree less: `fteval compare` prints the observed rate;
    pass it as --discordance.
    """
    if spec is not None:
        print_spec_plan(spec, targets)
        return
    if metric_value is None or difference is None:
        raise click.UsageError("give SPEC, or --metric-value and --difference")
    from fteval.analysis.paired import connor_n

    other = metric_value - difference if metric_value - difference >= 0 else metric_value + difference
    rate = discordance if discordance is not None else metric_value * (1 - other) + other * (1 - metric_value)
    n = connor_n(difference, rate, alpha, power)
    if n is None:
        raise click.UsageError(
            f"a difference of {difference:g} needs the models to disagree on at least {difference**2:.4g} of examples"
        )
    click.echo(
        f"n = {n} examples to detect a difference of {difference:g} around {metric_value:g} "
        f"(disagreement rate {rate:.3f}, alpha {alpha:g}, power {power:g})"
    )
