"""``fteval report``: runs (or the latest runs of a spec's targets) as one HTML file and as Markdown."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fteval.cli.gate_options import alpha_option, fail_if_worse_option
from fteval.cli.spec_warnings import print_warnings
from fteval.errors import UsageError

if TYPE_CHECKING:
    from fteval.storage.records import RunRecord
    from fteval.storage.store import Store

_HELP = """Report runs: the main table with 95% CIs, costs and latency, breakdowns of where the models
fail, loss curves, an accuracy-against-cost plot, and an example browser.

\b
RUN_OR_SPEC is a run (id, unique id prefix, tag, label, latest, latest~K) or a spec file: the
latest complete run of each of its targets. Several are shown side by side, and each run is paired
with a reference run A on the same examples (as `fteval compare A B`): --reference, else the first
baseline run, else the first run named. Default: latest.

\b
--html FILE writes one self-contained page (no network at view time: open it from disk);
--md FILE writes Markdown for a pull-request comment (`-` for stdout). With neither, the
Markdown goes to stdout. Plots need matplotlib: pip install 'fteval[report]'.
"""


def _spec_runs(store: Store, path: Path) -> list[RunRecord]:
    from fteval.spec.loader import load_spec

    loaded = load_spec(path)
    print_warnings(loaded)
    runs, missing = [], []
    for target in loaded.spec.targets:
        series = store.series(loaded.spec.name, target)
        if series:
            runs.append(series[0])
        else:
            missing.append(target)
    if missing:
        click.secho(
            f"warning: no complete run of {', '.join(missing)} (spec {loaded.spec.name}) in {store.path}; "
            f"run `fteval run {path}` first",
            fg="yellow",
            err=True,
        )
    return runs


def resolve_runs(store: Store, refs: tuple[str, ...]) -> list[RunRecord]:
    """Runs named by run references and spec files, in order, each once.

    Raises:
        UsageError: an unknown run, or nothing to report.
    """
    from fteval.storage.refs import resolve_run

    runs: dict[str, RunRecord] = {}
    for ref in refs or ("latest",):
        path = Path(ref)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            found = _spec_runs(store, path)
        else:
            found = [resolve_run(store, ref)]
        runs.update((r.id, r) for r in found if r.id not in runs)
    if not runs:
        raise UsageError("nothing to report: no complete runs of the specs named")
    return list(runs.values())


@click.command("report", help=_HELP)
@click.argument("refs", nargs=-1, metavar="[RUN_OR_SPEC]...")
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML report here."
)
@click.option(
    "--md", "md_file", type=click.Path(dir_okay=False, allow_dash=True), help="Write Markdown here ('-': stdout)."
)
@click.option(
    "--worst", default=5, show_default=True, type=click.IntRange(0), help="Wrong examples per run in the Markdown."
)
@click.option("--no-compare", is_flag=True, help="Skip the paired comparisons.")
@click.option(
    "--reference",
    metavar="RUN",
    help="Compare every other run with this one (A) [default: the first baseline run, else the first run].",
)
@fail_if_worse_option(
    "Exit 1 if a run is significantly worse than the reference run on METRIC by more than MAX_DROP. Repeatable."
)
@alpha_option("With --fail-if-worse: significance level of the gate.")
@click.pass_context
def report(
    ctx: click.Context,
    refs: tuple[str, ...],
    html_file: Path | None,
    md_file: str | None,
    worst: int,
    no_compare: bool,
    reference: str | None,
    gates: tuple[str, ...],
    alpha: float,
) -> None:
    """Write the report (see the help text above)."""
    from fteval.report.model import build_report
    from fteval.storage.refs import resolve_run
    from fteval.storage.store import Store

    store = Store(ctx.obj["store"])
    try:
        start = time.perf_counter()
        runs = resolve_runs(store, refs)
        reference_run = resolve_run(store, reference) if reference else None
        built = build_report(store, runs, compare=not no_compare, reference=reference_run)
        if html_file is not None:
            from fteval.report.html import render_html

            html_file.parent.mkdir(parents=True, exist_ok=True)
            html_file.write_text(render_html(built), encoding="utf-8")
            size = html_file.stat().st_size
            click.echo(
                f"wrote {html_file} ({size / 1e6:.2f} MB, {len(built.runs)} runs, "
                f"{sum(len(r.examples) for r in built.runs):,} examples) in {time.perf_counter() - start:.1f} s",
                err=True,
            )
        if md_file is not None or html_file is None:
            from fteval.report.markdown import render_markdown

            text = render_markdown(built, worst=worst)
            if md_file in (None, "-"):
                click.echo(text, nl=False)
            else:
                Path(md_file).parent.mkdir(parents=True, exist_ok=True)
                Path(md_file).write_text(text, encoding="utf-8")
                click.echo(f"wrote {md_file}", err=True)
        if gates:
            # stderr when the Markdown went to stdout, so the verdict stays the log's last line either way
            failed = _gate(
                store, runs, reference_run, gates, alpha, stderr=md_file in (None, "-") and html_file is None
            )
            if failed:
                sys.exit(1)
    finally:
        store.close()


def _gate(
    store: Store, runs: list[RunRecord], reference: RunRecord | None, gates: tuple[str, ...], alpha: float, stderr: bool
) -> bool:
    """Gate every run on the reference run, as ``fteval compare`` does; print the gates and the verdict last."""
    from fteval.analysis.compare import compare_runs, parse_gate
    from fteval.cli.compare_cmds import gate_line
    from fteval.cli.verdict import verdict_line, wide_console
    from fteval.report.model import reference_run

    if len(runs) < 2:
        raise UsageError("--fail-if-worse needs two runs or more: the reference run and the runs gated on it")
    parsed = [parse_gate(g) for g in gates]
    a = reference_run(runs, reference)
    results = [compare_runs(store, a, b, gates=parsed, alpha=alpha) for b in runs if b.id != a.id]
    console = wide_console(stderr=stderr)
    for cmp in results:
        for g in cmp.gates:
            console.print(f"gate {cmp.b.name} vs {cmp.a.name}: {gate_line(g)}", markup=False, soft_wrap=True)
    console.print(verdict_line(results), markup=False, soft_wrap=True)
    return any(c.failed for c in results)
