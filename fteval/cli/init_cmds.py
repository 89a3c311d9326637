"""``fteval init``: a starter spec from a data file, validated, with the commands that run it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fteval.cli.spec_warnings import print_warnings
from fteval.errors import SpecError


@click.command()
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV, JSON or JSONL rows.",
)
@click.option(
    "--task",
    type=click.Choice(["classification", "generation", "sql", "viggo"]),
    help="Parser and metrics to use  [default: classification when the target has few distinct values, else generation]",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec file to write  [default: DATA's name .yaml]",
)
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
def init(data: Path, task: str | None, output: Path | None, force: bool) -> None:
    """Write a starter spec for DATA: columns detected, a template, a parser and metrics, two targets; validate it."""
    from fteval.spec.loader import load_spec
    from fteval.spec.schema import spec_schema
    from fteval.spec.starter import detect, render_spec, spec_name

    found = detect(data, task)
    out = output or Path(f"{spec_name(data)}.yaml")
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; pass --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_spec(found, out, spec_name(data)), encoding="utf-8")
    schema_file = out.parent / "spec.schema.json"
    if not schema_file.exists():  # the spec's first line points editors at it
        schema_file.write_text(json.dumps(spec_schema(), indent=2) + "\n", encoding="utf-8")
    click.echo(f"{data}: {found.rows:,} rows, columns {', '.join(found.columns)}")
    click.echo(f"  input: {found.input}  target: {found.target}  task: {found.task}")
    if found.labels:
        click.echo(f"  labels: {', '.join(found.labels)}")
    click.echo(f"wrote {out}")
    try:
        loaded = load_spec(out)
    except SpecError as exc:
        for issue in exc.issues:
            click.secho(str(issue), fg="red", err=True)
        click.secho(f"{out} does not validate yet: edit it, then run fteval validate {out}", fg="red", err=True)
        sys.exit(2)
    print_warnings(loaded)
    for check in loaded.gold:
        if check.labels:
            click.echo(f"  {check.split} gold labels: {check.distribution()}")
    click.echo("next:")
    click.echo(f"  fteval validate {out}")
    click.echo(f"  fteval run {out} -t lookup      # the baseline, in seconds")
    click.echo(f"  fteval run {out}                # and the tiny model (minutes on CPU)")
