"""``fteval cancel``: cancel a target's remote training job through its trainer's ``cancel`` hook."""

from __future__ import annotations

from pathlib import Path

import click

from fteval.errors import FtevalError
from fteval.spec.loader import load_spec


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--target", "-t", required=True, help="Target whose remote training job to cancel.")
@click.pass_context
def cancel(ctx: click.Context, spec: Path, target: str) -> None:
    """Cancel a target's remote fine-tuning job (trainers that run jobs remotely, e.g. openai)."""
    from fteval import registry
    from fteval.running.engine import Engine
    from fteval.storage.store import Store

    loaded = load_spec(spec)
    if target not in loaded.targets:
        raise FtevalError(f"unknown target {target!r}; the spec has: {', '.join(loaded.targets)}")
    store_path: Path = ctx.obj["store"]
    engine = Engine(loaded, Store(store_path), store_path.parent)
    job = engine.store.job(engine.job_key(target))
    if job is None or not job.external_id:
        raise FtevalError(f"target {target!r} has no remote job to cancel")
    resolved = loaded.targets[target]
    trainer = resolved.trainer(resolved.config)
    with registry.install_hint("trainer", resolved.spec.trainer):
        status = trainer.cancel(job.external_id)
    click.echo(f"{target}: job {job.external_id} {status}")
