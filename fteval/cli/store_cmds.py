"""Commands that read the run store: runs, show."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from fteval.cli import main


def _open(ctx: click.Context):  # noqa: ANN202
    from fteval.store import Store  # noqa: PLC0415

    return Store(ctx.obj["store"])


@main.command()
@click.option("--spec", "spec_name", help="Only runs of this spec name.")
@click.pass_context
def runs(ctx: click.Context, spec_name: str | None) -> None:
    """List runs, newest first."""
    store = _open(ctx)
    table = Table("run", "label / tags", "spec", "target", "status", "examples", "model", "started (UTC)")
    for r in store.list_runs(spec_name):
        started = datetime.fromtimestamp(r.started_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        names = ", ".join(dict.fromkeys(n for n in (r.label, *r.tags) if n))
        table.add_row(r.id, names, r.spec_name, r.display_target, r.status, f"{r.n_done}/{r.n_examples}", r.model_fingerprint[:24], started)
    Console().print(table)


@main.command()
@click.argument("run_id")
@click.option("--examples", "-n", default=5, show_default=True, help="How many examples to print.")
@click.option("--failures", is_flag=True, help="Only examples that failed to parse.")
@click.pass_context
def show(ctx: click.Context, run_id: str, examples: int, failures: bool) -> None:
    """Show one run (id, unique prefix, or 'latest'): metrics, provenance, examples."""
    from fteval.summary import print_run  # noqa: PLC0415

    store = _open(ctx)
    run = store.get_run(run_id)
    console = Console()
    print_run(console, store, run)
    rows = [r for r in store.examples(run.id) if not failures or not r.parse_ok][:examples]
    for r in rows:
        console.print(f"\n[bold]#{r.idx}[/bold] {r.prompt.get('user', '')[:200]!r}")
        console.print(f"  gold:   {r.gold!r}\n  output: {r.output!r}")
        if not r.parse_ok:
            console.print(f"  parse failure: {r.parse_error}")
