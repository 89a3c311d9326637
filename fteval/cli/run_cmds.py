"""Commands that run models: train, eval, run."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fteval.errors import FtevalError
from fteval.identity import redact_text
from fteval.loader import load_spec

_spec = click.argument("spec", type=click.Path(path_type=Path))
_target = click.option("--target", "-t", "targets", multiple=True, help="Target name (repeatable); default: all.")
_model = click.option(
    "--model", "model", default=None, metavar="ID_OR_PATH",
    help="Evaluate this model instead of the target's (its model.id: a hub id, local directory or API model); needs one -t.",
)


def _model_overrides(model: str | None, targets: tuple[str, ...]) -> dict[str, Any] | None:
    """``--model`` as a partial spec over the one chosen target's ``model.id``."""
    if model is None:
        return None
    if len(targets) != 1:
        raise click.UsageError("--model replaces one target's model: name exactly one target with -t")
    return {"targets": {targets[0]: {"model": {"id": model}}}}


def _resumable(command: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C ends a run command with exit 130 and how to resume, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:
            argv = " ".join(["fteval", *sys.argv[1:]])
            click.secho(
                f"\ninterrupted: finished examples and training checkpoints are kept in the store;"
                f" run the same command to resume where it stopped:\n  {argv}",
                fg="yellow", err=True,
            )
            sys.exit(130)

    return wrapper


def _engine(ctx: click.Context, spec: Path, overrides: dict[str, Any] | None = None):  # noqa: ANN202 - returns (engine, store)
    from fteval.engine import Engine  # noqa: PLC0415
    from fteval.store import Store  # noqa: PLC0415

    loaded = load_spec(spec, overrides, overrides_from="--model")
    print_warnings(loaded)
    store_path: Path = ctx.obj["store"]
    store = Store(store_path)
    return Engine(loaded, store, store_path.parent), store


def _targets(engine, chosen: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    names = list(engine.spec.targets)
    if not names:
        raise FtevalError(f"{engine.loaded.file} has no targets; extend it and add some")
    unknown = [t for t in chosen if t not in names]
    if unknown:
        raise FtevalError(f"unknown target(s) {unknown}; the spec has: {', '.join(names)}")
    return list(chosen) or names


from fteval.cli import main, print_warnings  # noqa: E402


@main.command()
@_spec
@_target
@click.pass_context
@_resumable
def train(ctx: click.Context, spec: Path, targets: tuple[str, ...]) -> None:
    """Train targets (a finished job is reused; an interrupted one resumes)."""
    engine, _ = _engine(ctx, spec)
    for target in _targets(engine, targets):
        job_id, handle = engine.train(target)
        where = redact_text(str(handle.location), engine.secrets)
        click.echo(f"{target}: job {job_id} done, model {redact_text(handle.fingerprint, engine.secrets)} at {where}")


def _report(store, engine, run_ids: list[str]) -> None:  # noqa: ANN001
    from fteval.summary import print_run  # noqa: PLC0415

    console = Console()
    console = console if console.is_terminal else Console(width=100_000)  # CI logs: no wrapping at 80 columns
    for run_id in run_ids:
        print_run(console, store, store.get_run(run_id))
    console.print(f"model calls this invocation: {engine.model_calls}")


@main.command(name="eval")
@_spec
@_target
@click.option("--rerun", is_flag=True, help="Start a new run even if an identical one is complete (uses the cache).")
@_model
@click.pass_context
@_resumable
def eval_(ctx: click.Context, spec: Path, targets: tuple[str, ...], rerun: bool, model: str | None) -> None:
    """Evaluate trained targets (an interrupted run resumes where it stopped)."""
    engine, store = _engine(ctx, spec, _model_overrides(model, targets))
    run_ids = []
    for target in _targets(engine, targets):
        job_id, handle = engine.trained(target)
        run_ids.append(engine.evaluate(target, job_id, handle, rerun=rerun))
    _report(store, engine, run_ids)


@main.command()
@_spec
@_target
@click.option("--rerun", is_flag=True, help="Start new runs even if identical ones are complete (uses the cache).")
@_model
@click.pass_context
@_resumable
def run(ctx: click.Context, spec: Path, targets: tuple[str, ...], rerun: bool, model: str | None) -> None:
    """Train then evaluate targets; resumes whatever an earlier invocation left unfinished."""
    engine, store = _engine(ctx, spec, _model_overrides(model, targets))
    run_ids = [engine.run(target, rerun=rerun) for target in _targets(engine, targets)]
    _report(store, engine, run_ids)
