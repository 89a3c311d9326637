"""``fteval tag``: name a run; tags work wherever a run id does."""

from __future__ import annotations

import click


@click.command()
@click.argument("run_ref")
@click.argument("name")
@click.option("--force", is_flag=True, help="Move the tag if it already points at another run.")
@click.pass_context
def tag(ctx: click.Context, run_ref: str, name: str, force: bool) -> None:
    """Name a run (`fteval tag latest v2.0`); tags work wherever a run id does and show in `runs`."""
    from fteval.errors import UsageError
    from fteval.storage.refs import check_tag_name, resolve_run

    check_tag_name(name)
    from fteval.storage.store import Store

    store = Store(ctx.obj["store"])
    run = resolve_run(store, run_ref)
    current = store.tag_target(name)
    if current is not None and current != run.id and not force:
        raise UsageError(f"tag {name!r} already points at run {current}; use --force to move it to {run.id}")
    store.set_tag(name, run.id)
    moved = f" (moved from {current})" if current is not None and current != run.id else ""
    click.echo(f"{name} -> {run.id}{moved}")
