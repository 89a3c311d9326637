"""Commands that read the run store: runs, show."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from fteval.storage.records import ExportRecord, RunRecord

if TYPE_CHECKING:
    from rich.console import Console

    from fteval.storage.store import Store


def _open(ctx: click.Context) -> Store:
    from fteval.storage.store import Store

    return Store(ctx.obj["store"])


def _console() -> Console:
    """stdout; when it is not a terminal (a pipe, a CI log) nothing is cut or wrapped to a guessed width."""
    from rich.console import Console  # rich only where a command prints (validate stays fast)

    console = Console()
    return console if console.is_terminal else Console(width=100_000)


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=1, default=str))


def _run_json(run: RunRecord, aggregates: list[Any]) -> dict[str, Any]:
    from fteval.analysis.summary import metric_order

    by_name = {a.metric: dataclasses.asdict(a) for a in aggregates}
    return {
        "id": run.id,
        "spec": run.spec_name,
        "target": run.target,
        "status": run.status,
        "is_baseline": run.is_baseline,
        "n_done": run.n_done,
        "n_examples": run.n_examples,
        "label": run.label,
        "tags": list(run.tags),
        "model_location": run.model_location,
        "model_identity": run.model_identity,
        "model_fingerprint": run.model_fingerprint,
        "trainer": run.trainer,
        "generator": run.generator,
        "metrics": {name: by_name[name] for name in metric_order(run, aggregates) if name in by_name},
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


@click.command()
@click.option("--spec", "spec_name", help="Only runs of this spec name.")
@click.option("--target", help="Only runs of this target.")
@click.option(
    "--metrics", "n_metrics", default=3, show_default=True, help="How many of the spec's metrics to show as columns."
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON (every metric).")
@click.pass_context
def runs(ctx: click.Context, spec_name: str | None, target: str | None, n_metrics: int, as_json: bool) -> None:
    """List runs, newest first, one table per spec with its first metrics as columns."""
    from fteval.analysis.summary import metric_order, model_name

    store = _open(ctx)
    listed = store.list_runs(spec_name, target)
    if as_json:
        _json([_run_json(r, store.aggregates(r.id)) for r in listed])
        return
    console = _console()
    if not listed:
        console.print("no runs" + (" matching the filters" if spec_name or target else "") + f" in {store.path}")
        return
    by_spec: dict[str, list[RunRecord]] = {}
    for r in listed:
        by_spec.setdefault(r.spec_name, []).append(r)
    for spec, spec_runs in by_spec.items():
        values = {r.id: {a.metric: a.value for a in store.aggregates(r.id)} for r in spec_runs}
        # the newest run's metric order names the columns; older runs line up under the same names
        columns = metric_order(spec_runs[0], store.aggregates(spec_runs[0].id))[:n_metrics]
        from rich.table import Table

        table = Table(title=f"spec {spec}", title_justify="left")
        table.add_column("run", no_wrap=True)
        table.add_column("label / tags")
        for name in ("target", "status", "examples", *columns):
            table.add_column(name, justify="right" if name in columns or name == "examples" else "left")
        table.add_column("model")
        table.add_column("started (UTC)", no_wrap=True)
        for r in spec_runs:
            started = datetime.fromtimestamp(r.started_at, tz=UTC).strftime("%Y-%m-%d %H:%M")
            metric_cells = [f"{values[r.id][m]:.3f}" if m in values[r.id] else "-" for m in columns]
            names = ", ".join(dict.fromkeys(n for n in (r.label, *r.tags) if n))
            table.add_row(
                r.id,
                names,
                r.display_target,
                r.status,
                f"{r.n_done}/{r.n_examples}",
                *metric_cells,
                model_name(r),
                started,
            )
        console.print(table)


def _export_lines(exports: list[ExportRecord], origins: list[ExportRecord]) -> list[str]:
    """Where a run's model was exported to, and which job an evaluated folder was exported from."""
    lines = [f"exported to {e.path} ({e.kind}, identity {e.identity})" for e in exports]
    return lines + [f"this model was exported from run {e.run_id} (job {e.job_id}) to {e.path}" for e in origins]


@click.command()
@click.argument("run_id")
@click.option(
    "--examples", "-n", type=int, default=None, help="How many examples to print [default: 5; with --json: all]."
)
@click.option("--failures", is_flag=True, help="Only examples that failed to parse.")
@click.option(
    "--wrong",
    is_flag=True,
    help="Only examples that parsed but are not right on the run's primary metric (in its direction).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run, its job, aggregates, totals and examples as JSON."
)
@click.pass_context
def show(ctx: click.Context, run_id: str, examples: int | None, failures: bool, wrong: bool, as_json: bool) -> None:
    """Show one run (id, unique prefix, tag, label, 'latest' or 'latest~K'): metrics, model, provenance, examples.

    \b
    'latest' is the newest complete run of the newest complete run's spec and target, 'latest~1'
    the one before it (as in `fteval compare`).
    """
    from fteval.analysis.breakdowns import breakdown_json, breakdown_table, run_breakdowns
    from fteval.analysis.primary import primary_metric
    from fteval.analysis.summary import metric_order, print_run
    from fteval.storage.callstore import step_stats
    from fteval.storage.refs import resolve_run

    store = _open(ctx)
    run = resolve_run(store, run_id)
    aggregates = store.aggregates(run.id)
    order = metric_order(run, aggregates)
    every = store.examples(run.id)
    primary = primary_metric(run, aggregates, every)
    rows = every
    if failures or wrong:
        rows = [r for r in rows if (failures and not r.parse_ok) or (wrong and primary.wrong(r))]
    limit = examples if examples is not None else (None if as_json else 5)
    rows = rows[:limit] if limit is not None else rows
    tables, breakdown_error = run_breakdowns(run, every)
    exports = store.exports(run_id=run.id)
    origins = store.exports(identity=run.model_identity) if run.model_identity else []
    if as_json:
        job = store.job_by_id(run.job_id) if run.job_id else None
        _json(
            {
                "run": dataclasses.asdict(run),
                "job": dataclasses.asdict(job) if job else None,
                "aggregates": [dataclasses.asdict(a) for a in aggregates],
                "metric_order": order,
                "primary": dataclasses.asdict(primary),  # the metric --wrong judges on, and its direction
                "totals": dataclasses.asdict(store.run_totals(run.id)),
                "breakdowns": [breakdown_json(b) for b in tables],
                "steps": [dataclasses.asdict(s) for s in step_stats(store, run.id)],
                "examples": [dataclasses.asdict(r) for r in rows],
                "exports": [dataclasses.asdict(e) for e in exports],
                "exported_from": [dataclasses.asdict(e) for e in origins],
            }
        )
        return
    console = _console()
    print_run(console, store, run)
    for line in _export_lines(exports, origins):
        console.print(line, soft_wrap=True, markup=False)
    for breakdown in tables:
        console.print(breakdown_table(breakdown))
    if breakdown_error:
        console.print(f"breakdowns unavailable: {breakdown_error}", markup=False)
    from rich.markup import escape

    for r in rows:
        # model text may hold [brackets]: escaped, never read as markup
        console.print(f"\n[bold]#{r.idx}[/bold] {escape(repr(r.prompt.get('user', '')[:200]))}", soft_wrap=True)
        console.print(f"  gold:   {r.gold!r}\n  output: {r.output!r}", soft_wrap=True, markup=False)
        if not r.parse_ok:
            console.print(f"  parse failure: {r.parse_error}", soft_wrap=True, markup=False)
        elif primary.name is not None and primary.name in r.scores:
            score = r.scores[primary.name]
            line = f"  {primary.name}: {score.value:.3g}" + (f" ({score.detail})" if score.detail else "")
            console.print(line, soft_wrap=True, markup=False)
