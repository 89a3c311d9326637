"""``fteval judge A B``: pairwise judging of two runs by a judge target of a spec, in both orders."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from fteval.cli.spec_warnings import print_warnings

_HELP = """Judge run B against run A on the same examples with a judge target of SPEC.

\b
Each example is judged twice (A's output shown first, then B's) to cancel position bias: a win
for B when both orders prefer B, a loss when both prefer A, else a tie. Prints win / tie / loss
with 95% Wilson CIs, the net preference (win - loss) with a bootstrap CI and a sign-test p-value,
how often the two orders disagree, and the judge's calls and cost. Calls are recorded in the
store and cached: running it again (or after an interruption) calls the judge only for what is
missing. --rubric FILE: a Jinja template of the judge's prompt (variables input, system,
reference, output_1, output_2); --pattern: RE2 with a group matching 1, 2 or tie.
"""


@click.command("judge", help=_HELP)
@click.argument("run_a", metavar="A")
@click.argument("run_b", metavar="B")
@click.option(
    "--spec",
    "spec_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The spec that declares the judge target.",
)
@click.option("--judge", "judge", required=True, help="The judge target (any generator target of --spec).")
@click.option("--rubric", "rubric_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system", default=None, help="System message of the judge's prompt.")
@click.option("--pattern", default=None, help="RE2 pattern whose group is 1, 2 or tie.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Judge only the first N examples.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (and every verdict) as JSON.")
@click.pass_context
def judge(
    ctx: click.Context,
    run_a: str,
    run_b: str,
    spec_file: Path,
    judge: str,
    rubric_file: Path | None,
    system: str | None,
    pattern: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Judge B against A (see the help text)."""
    from fteval.analysis.pairwise import DEFAULT_PAIR_PATTERN, DEFAULT_PAIR_RUBRIC, judge_pair, summary_lines
    from fteval.running.engine import Engine
    from fteval.spec.loader import load_spec
    from fteval.storage.refs import resolve_pair
    from fteval.storage.store import Store

    loaded = load_spec(spec_file)
    print_warnings(loaded)
    store_path: Path = ctx.obj["store"]
    store = Store(store_path)
    try:
        a, b = resolve_pair(store, run_a, run_b)
        engine = Engine(loaded, store, store_path.parent)
        rubric = rubric_file.read_text(encoding="utf-8") if rubric_file else DEFAULT_PAIR_RUBRIC
        result = judge_pair(
            engine, a, b, judge, rubric=rubric, system=system, pattern=pattern or DEFAULT_PAIR_PATTERN, limit=limit
        )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(asdict(result), indent=1))
        return
    names = [f"{r.id} ({r.target})" for r in (a, b)]
    for line in summary_lines(result, names):
        click.echo(line)
