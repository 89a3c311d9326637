"""Commands that run models: train, eval, run."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fteval.cli.gate_options import alpha_option, fail_if_worse_option
from fteval.cli.model_option import model_overrides
from fteval.cli.spec_warnings import print_warnings
from fteval.errors import FtevalError
from fteval.redaction import redact_text
from fteval.spec.loader import load_spec

if TYPE_CHECKING:
    from fteval.running.engine import Engine
    from fteval.storage.records import RunRecord
    from fteval.storage.store import Store

_spec = click.argument("spec", type=click.Path(path_type=Path))
_target = click.option("--target", "-t", "targets", multiple=True, help="Target name (repeatable); default: all.")

_model = click.option(
    "--model",
    "model",
    default=None,
    metavar="ID_OR_PATH",
    help=(
        "Evaluate this model as it is in the target's place (a hub id, local directory, GGUF file or API model;"
        " the target's training is skipped); needs one -t."
    ),
)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a CI timeout, ``kill``, a closed terminal), unwinding the run as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
    raise Stopped(signum)


def _resumable(command: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C, SIGTERM or SIGHUP end a run command with exit 128+signal and how to resume, not a traceback.

    The signal unwinds the main thread like Ctrl-C: the run is stored as 'interrupted', a training job
    keeps its last checkpoint, and the same command resumes.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        stops = (signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, _raise_stopped) for sig in stops}
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            argv = " ".join(["fteval", *sys.argv[1:]])
            what = f"stopped by {exc}" if isinstance(exc, Stopped) else "interrupted"
            click.secho(
                f"\n{what}: finished examples and training checkpoints are kept in the store;"
                f" run the same command to resume where it stopped:\n  {argv}",
                fg="yellow",
                err=True,
            )
            sys.exit(128 + exc.signum if isinstance(exc, Stopped) else 130)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    return wrapper


def _engine(ctx: click.Context, spec: Path, overrides: dict[str, Any] | None = None) -> tuple[Engine, Store]:
    from fteval.running.engine import Engine
    from fteval.storage.store import Store

    # every row's gold answer is parsed first: one the parser rejects stops the run before anything is spent
    loaded = load_spec(spec, overrides, overrides_from="--model", gold_rows=None)
    print_warnings(loaded)
    store_path: Path = ctx.obj["store"]
    store = Store(store_path)
    return Engine(loaded, store, store_path.parent), store


def _targets(engine: Engine, chosen: tuple[str, ...]) -> list[str]:
    names = list(engine.spec.targets)
    if not names:
        raise FtevalError(f"{engine.loaded.file} has no targets; extend it and add some")
    unknown = [t for t in chosen if t not in names]
    if unknown:
        raise FtevalError(f"unknown target(s) {unknown}; the spec has: {', '.join(names)}")
    return list(chosen) or names


@click.command()
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


def _report(store: Store, engine: Engine, run_ids: list[str]) -> None:
    from rich.console import Console  # rich only where a command prints (validate stays fast)

    from fteval.analysis.summary import print_run

    console = Console()
    console = console if console.is_terminal else Console(width=100_000)  # CI logs: no wrapping at 80 columns
    for run_id in run_ids:
        print_run(console, store, store.get_run(run_id))
    console.print(f"model calls this invocation: {engine.model_calls}")


_no_cache = click.option(
    "--no-cache",
    is_flag=True,
    help="Ask the model for every row again instead of answering from the response cache (a new run; implies --rerun).",
)
_label = click.option("--label", help="Name the run(s), e.g. v2.1 (shown in runs, show and compare).")
_move_label = click.option(
    "--move-label",
    is_flag=True,
    help="With --label: move the label from the run of the same spec and target that has it, or relabel a reused run.",
)


def _set_label(store: Store, run_ids: list[str], label: str | None, move: bool) -> None:
    """Label the runs; a label is never moved or replaced silently (``--move-label`` asks for it).

    Raises:
        UsageError: a run already carries another label (it was reused: nothing changed since), or
            another run of the same spec and target carries this one.
    """
    from fteval.errors import UsageError

    for run_id in run_ids if label else ():
        run = store.get_run(run_id)
        holders = [r for r in store.list_runs(run.spec_name, run.target) if r.label == label and r.id != run_id]
        if not move and run.label not in (None, label):
            raise UsageError(
                f"run {run_id} already carries label {run.label!r}: it was reused because its model, data and"
                f" settings are unchanged, so it is not a new release. Pass --move-label to relabel it {label!r}"
            )
        if not move and holders:
            raise UsageError(
                f"label {label!r} is on run {holders[0].id} of {run.spec_name}/{run.target}: choose another label,"
                f" or pass --move-label to move it to run {run_id}"
            )
        for holder in holders:
            store.set_label(holder.id, None)
        store.set_label(run_id, label)


@click.command(name="eval")
@_spec
@_target
@click.option("--rerun", is_flag=True, help="Start a new run even if an identical one is complete (uses the cache).")
@_no_cache
@_model
@_label
@_move_label
@click.pass_context
@_resumable
def eval_(
    ctx: click.Context,
    spec: Path,
    targets: tuple[str, ...],
    rerun: bool,
    no_cache: bool,
    model: str | None,
    label: str | None,
    move_label: bool,
) -> None:
    """Evaluate trained targets (an interrupted run resumes where it stopped)."""
    engine, store = _engine(ctx, spec, model_overrides(spec, model, targets))
    run_ids = []
    for target in _targets(engine, targets):
        job_id, handle = engine.trained(target)
        run_ids.append(engine.evaluate(target, job_id, handle, rerun=rerun or no_cache, use_cache=not no_cache))
    _set_label(store, run_ids, label, move_label)
    _report(store, engine, run_ids)


@click.command()
@_spec
@_target
@click.option("--rerun", is_flag=True, help="Start new runs even if identical ones are complete (uses the cache).")
@_no_cache
@_model
@_label
@_move_label
@click.option(
    "--baseline", help="Compare each new run with this run or tag (latest/latest~K: of the same spec and target)."
)
@fail_if_worse_option(
    "With --baseline: exit 1 if a run is significantly worse on METRIC by more than MAX_DROP. Repeatable."
)
@alpha_option("With --baseline: significance level of the gate.")
@click.option(
    "--md", "md_file", type=click.Path(path_type=Path), help="With --baseline: write the Markdown comparison here."
)
@click.pass_context
@_resumable
def run(
    ctx: click.Context,
    spec: Path,
    targets: tuple[str, ...],
    rerun: bool,
    no_cache: bool,
    model: str | None,
    label: str | None,
    move_label: bool,
    baseline: str | None,
    gates: tuple[str, ...],
    alpha: float,
    md_file: Path | None,
) -> None:
    """Train then evaluate targets; resumes whatever an earlier invocation left unfinished.

    With --baseline, each new run is compared with the baseline as `fteval compare BASELINE RUN` does,
    and --fail-if-worse gates on it (exit 1 on a significant regression).
    """
    from fteval.errors import UsageError

    if (gates or md_file) and not baseline:
        raise UsageError("--fail-if-worse and --md need --baseline RUN|TAG")
    engine, store = _engine(ctx, spec, model_overrides(spec, model, targets))
    chosen = _targets(engine, targets)
    baselines = _baselines(engine, store, chosen, baseline, gates)
    run_ids = [engine.run(target, rerun=rerun or no_cache, use_cache=not no_cache) for target in chosen]
    _set_label(store, run_ids, label, move_label)
    _report(store, engine, run_ids)
    if baseline:
        sys.exit(_gate(store, baselines, run_ids, gates, alpha, md_file))


def _baselines(
    engine: Engine, store: Store, targets: list[str], ref: str | None, gates: tuple[str, ...]
) -> list[RunRecord]:
    """Resolve the baseline of each target and check the gated metrics before any model runs."""
    if ref is None:
        return []
    from fteval.analysis.compare import parse_gate
    from fteval.errors import UsageError
    from fteval.storage.refs import resolve_run

    for gate in map(parse_gate, gates):
        if gate.metric not in engine.loaded.metrics:
            raise UsageError(
                f"--fail-if-worse {gate.metric!r}: the spec has no such metric; it has: {', '.join(engine.loaded.metrics)}"
            )
    return [resolve_run(store, ref, (engine.spec.name, target)) for target in targets]


def _gate(
    store: Store,
    baselines: list[RunRecord],
    run_ids: list[str],
    gates: tuple[str, ...],
    alpha: float,
    md_file: Path | None,
) -> int:
    """Compare each new run with its baseline, print and write the summaries; 1 if a gate failed."""

    from fteval.analysis.compare import compare_runs, parse_gate
    from fteval.cli.compare_cmds import comparison_markdown, print_comparison
    from fteval.errors import UsageError

    for base, run_id in zip(baselines, run_ids, strict=True):
        if base.id == run_id:
            raise UsageError(
                f"the run evaluated is the baseline run {run_id} itself (same model, data and settings):"
                " a run compared with itself shows no difference, so there is nothing to gate"
            )
    from fteval.cli.verdict import verdict_line, wide_console

    console = wide_console()
    parsed = [parse_gate(g) for g in gates]
    results = [
        compare_runs(store, base, store.get_run(run_id), gates=parsed, alpha=alpha)
        for base, run_id in zip(baselines, run_ids, strict=True)
    ]
    for cmp in results:
        console.print(f"\n[bold]compared with baseline {cmp.a.name}[/bold]")
        print_comparison(console, cmp)
    if md_file is not None:
        md_file.write_text("\n".join(comparison_markdown(c) for c in results), encoding="utf-8")
    if gates:
        console.print(verdict_line(results), markup=False, soft_wrap=True)  # last: what a CI log reader looks for
    return 1 if any(c.failed for c in results) else 0
