"""``fteval compare``: two runs compared (with the regression gate), and the comparison's renderers."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fteval.cli.gate_options import alpha_option, fail_if_worse_option

if TYPE_CHECKING:
    from rich.console import Console

    from fteval.analysis.compare import Comparison, Gate, GateResult
    from fteval.storage.records import RunRecord
    from fteval.storage.store import Store

_STATUS_STYLE = {"passed": "green", "failed": "bold red", "inconclusive": "yellow"}

_COMPARE_HELP = """Compare run B against baseline run A on the same eval examples.

\b
A and B are run ids, unique id prefixes, tags (`fteval tag`), or `latest` / `latest~K`:
the K-th newest complete run of one spec and target. That series is --spec/--target if given;
else the spec and target of the other argument when it names a concrete run; else those of the
newest complete run. `fteval compare latest~1 latest` compares the last two runs of the newest
experiment; `fteval compare v2.0 latest` compares the newest run of v2.0's spec+target with v2.0.

\b
Per metric: A, B, the difference B - A with a paired 95% bootstrap CI (the same resampled
examples for both runs; metrics with their own aggregate, such as micro slot F1, are recomputed
on each resample), McNemar's exact p-value for 0/1 metrics (paired bootstrap p otherwise), n, and
the smallest difference this comparison could detect (MDE) at --alpha and --power.

\b
Gate: --fail-if-worse METRIC[=MAX_DROP] (repeatable) exits 1 when B is worse than A by more than
MAX_DROP (default 0) and the difference is significant at --alpha; a drop that is not significant
is reported as inconclusive and exits 0. Exit 2: unknown run or metric, runs on different data.
"""


def _store(ctx: click.Context) -> Store:
    from fteval.storage.store import Store

    return Store(ctx.obj["store"])


def _gates(values: tuple[str, ...]) -> list[Gate]:
    from fteval.analysis.compare import parse_gate

    return [parse_gate(v) for v in values]


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def gate_line(g: GateResult) -> str:
    """One gate's verdict, e.g. ``exact_match: FAILED: B is worse by 0.0500, more than 0, significant (p=0.0010)``."""
    from fteval.analysis.comparetable import p_clause

    verdict = {"passed": "passed", "failed": "FAILED", "inconclusive": "inconclusive"}[g.status]
    how = f"B is worse by {g.drop:.4f}" if g.drop > 0 else f"B is not worse (change {-g.drop:+.4f})"
    why = {
        "passed": f"within the allowed drop {g.max_drop:g}" if g.drop > 0 else "",
        "failed": f"more than {g.max_drop:g}, significant ({p_clause(g.p_value)})",
        "inconclusive": f"more than {g.max_drop:g}, but not significant ({p_clause(g.p_value)})",
    }[g.status]
    return f"{g.metric}: {verdict}: {how}{', ' + why if why else ''}"


def _advice(cmp: Comparison) -> list[str]:
    lines = []
    for m in cmp.metrics:
        needs = ", ".join(f"{d}: {n if n is not None else 'n/a'}" for d, n in m.n_needed.items())
        if m.binary:
            disagree = (m.a_only or 0) + (m.b_only or 0)
            basis = f"the runs disagree on {disagree} of {m.n} examples"
        else:
            basis = "per-example SD of the difference " + _fmt(m.sigma, ".3g")
        lines.append(f"{m.metric}: MDE {_fmt(m.mde)} at n={m.n}; n needed to detect a difference of {needs} ({basis})")
    return lines


def print_comparison(console: Console, cmp: Comparison) -> None:
    """Print a comparison to the terminal: runs, metric table, gates, flips and sample-size advice."""
    from rich.markup import escape
    from rich.table import Table

    from fteval.analysis.comparetable import HEADER, comparison_rows, flip_counts

    console.print(f"A (baseline): {escape(cmp.a.name)}  model {escape(cmp.a.model)}")
    console.print(f"B:            {escape(cmp.b.name)}  model {escape(cmp.b.model)}")
    console.print(f"{cmp.n} examples with identical prompts and golds; alpha {cmp.alpha:g}, power {cmp.power:g}")
    table = Table(*HEADER, title_justify="left")
    for row in comparison_rows(cmp):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    for name, why in cmp.skipped.items():
        console.print(f"skipped {name}: {escape(why)}")
    for g in cmp.gates:
        console.print(f"gate {escape(gate_line(g))}", style=_STATUS_STYLE[g.status])
    if cmp.flips_metric:
        console.print(f"\nflips on {escape(cmp.flips_metric)}: {flip_counts(cmp)}")
        for f in cmp.flips:
            console.print(
                f"[bold]#{f.idx}[/bold] {f.direction}  prompt: {escape(repr(f.prompt.get('user', '')[:200]))}"
            )
            console.print(
                f"  gold: {escape(repr(f.gold))}\n  A:    {escape(repr(f.output_a))}\n  B:    {escape(repr(f.output_b))}"
            )
    console.print("\nsmallest detectable difference (MDE) and sample size:")
    for line in _advice(cmp):
        console.print("  " + escape(line))


def _md_cell(text: str, width: int = 160) -> str:
    text = text if len(text) <= width else text[: width - 1] + "…"
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", "⏎") + "`" if text else "` `"


def comparison_markdown(cmp: Comparison) -> str:
    """A Markdown summary of a comparison, fit for a pull-request comment."""
    from fteval.analysis.comparetable import HEADER, comparison_rows, flip_counts
    from fteval.report.mdsafe import md_text

    verdict = (
        "❌ regression"
        if cmp.failed
        else (
            "⚠️ inconclusive" if any(g.status == "inconclusive" for g in cmp.gates) else "✅ no significant regression"
        )
    )
    lines = [f"### fteval compare: {verdict if cmp.gates else 'results'}", ""]
    lines += [
        f"- **A (baseline)**: `{cmp.a.name}`, model `{cmp.a.model}`",
        f"- **B**: `{cmp.b.name}`, model `{cmp.b.model}`",
    ]
    lines += [f"- {cmp.n} examples (same prompts and golds), alpha {cmp.alpha:g}", ""]
    lines += ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    lines += ["| " + " | ".join(md_text(cell) for cell in row) + " |" for row in comparison_rows(cmp)]
    if cmp.gates:
        lines += ["", "**Gate**", ""]
        icon = {"passed": "✅", "failed": "❌", "inconclusive": "⚠️"}
        lines += [f"- {icon[g.status]} {gate_line(g)}" for g in cmp.gates]
    if cmp.flips_metric:
        lines += [
            "",
            f"<details><summary>Flips on {md_text(cmp.flips_metric)}: {flip_counts(cmp)}</summary>",
            "",
        ]
        lines += ["| # | flip | prompt | gold | A | B |", "| --- | --- | --- | --- | --- | --- |"]
        for f in cmp.flips:
            lines.append(
                f"| {f.idx} | {f.direction} | {_md_cell(f.prompt.get('user', ''))} | {_md_cell(f.gold)} | "
                f"{_md_cell(f.output_a)} | {_md_cell(f.output_b)} |"
            )
        lines += ["", "</details>"]
    lines += ["", "<details><summary>Smallest detectable difference and sample size</summary>", ""]
    lines += [f"- {line}" for line in _advice(cmp)] + ["", "</details>", ""]
    return "\n".join(lines)


def comparison_json(cmp: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready data (with ``failed`` added)."""
    return {**asdict(cmp), "failed": cmp.failed}


@click.command(help=_COMPARE_HELP, short_help="Compare two runs: paired differences, significance, a regression gate.")
@click.argument("run_a")
@click.argument("run_b")
@fail_if_worse_option(
    "Exit 1 if B is significantly worse than A on METRIC by more than MAX_DROP (default 0). Repeatable."
)
@alpha_option("Significance level of the gate and of the MDE.")
@click.option(
    "--power",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Power for the MDE and the sample-size advice.",
)
@click.option("--spec", "spec_name", help="Series of latest/latest~K: this spec name.")
@click.option("--target", help="Series of latest/latest~K: this target.")
@click.option("--limit", default=5, show_default=True, help="Flipped examples listed per direction.")
@click.option("--flips", "flips_metric", help="0/1 metric whose flips are listed [default: first gated 0/1 metric].")
@click.option(
    "--detect", multiple=True, type=float, help="Differences to size n for (repeatable) [default: 0.01 0.02 0.05]."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the paired bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option(
    "--md", "md_file", type=click.Path(path_type=Path), help="Write a Markdown summary (for a pull-request comment)."
)
@click.pass_context
def compare(
    ctx: click.Context,
    run_a: str,
    run_b: str,
    gates: tuple[str, ...],
    alpha: float,
    power: float,
    spec_name: str | None,
    target: str | None,
    limit: int,
    flips_metric: str | None,
    detect: tuple[float, ...],
    seed: int,
    as_json: bool,
    md_file: Path | None,
) -> None:
    from fteval.analysis.compare import DEFAULT_DETECT, compare_runs
    from fteval.cli.verdict import verdict_line, wide_console
    from fteval.storage.refs import resolve_pair

    parsed = _gates(gates)
    store = _store(ctx)
    a, b = resolve_pair(store, run_a, run_b, (spec_name, target))
    cmp = compare_runs(
        store,
        a,
        b,
        gates=parsed,
        alpha=alpha,
        power=power,
        seed=seed,
        limit=limit,
        flips_metric=flips_metric,
        detect=detect or DEFAULT_DETECT,
    )
    if md_file is not None:
        md_file.write_text(comparison_markdown(cmp), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(comparison_json(cmp), indent=2, default=str))
    else:
        console = wide_console()
        print_comparison(console, cmp)
        _print_steps(console, store, (a, b))
        if cmp.gates:
            console.print(verdict_line([cmp]), markup=False, soft_wrap=True)  # the last line of a CI log
    sys.exit(1 if cmp.failed else 0)


def _print_steps(console: Console, store: Store, runs: tuple[RunRecord, ...]) -> None:
    """The per-step tables of the compared runs that are pipelines."""
    from fteval.analysis.stepsummary import step_table

    for run in runs:
        table = step_table(store, run)
        if table is not None:
            console.print(table)
