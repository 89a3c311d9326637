"""``fteval export-model``: a run's trained model as a standalone Hugging Face folder with a model card."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export-model")
@click.argument("run_ref", metavar="RUN")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--merge", is_flag=True, help="LoRA targets: write the adapter merged into its base weights.")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
@click.pass_context
def export_model(ctx: click.Context, run_ref: str, folder: Path, merge: bool, force: bool) -> None:
    """Write the model of RUN (id, tag, label, 'latest' or 'latest~K') into DIR, loadable without fteval, with a README.md model card."""
    from fteval.running.exporting import export_run
    from fteval.storage.store import Store

    done = export_run(Store(ctx.obj["store"]), run_ref, folder, merge=merge, force=force)
    model = done.model
    base = f" over {model.base_model}" if model.kind == "adapter" and model.base_model else ""
    click.echo(f"exported run {done.run.id} (job {done.job_id}) to {folder}: {model.kind} {model.library} model{base}")
    click.echo(f"identity {model.identity}; model card {folder / 'README.md'}")
