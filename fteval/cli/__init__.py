"""The ``fteval`` command line: one module per command group, errors without tracebacks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from fteval import __version__
from fteval.errors import FtevalError
from fteval.identity import redact_text


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        """The built-in commands and those plugins register, sorted."""
        from fteval.commands import command_names  # noqa: PLC0415

        return sorted(set(super().list_commands(ctx)) | set(command_names()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else one a plugin registers in ``fteval.commands`` (a built-in name wins)."""
        built_in = super().get_command(ctx, cmd_name)
        if built_in is not None:
            return built_in  # no entry-point scan for the commands fteval has
        from fteval.commands import load_command  # noqa: PLC0415

        return load_command(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FtevalError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(redact_text(str(exc)), fg="red", err=True)  # a plugin's message may quote a URL
            sys.exit(exc.exit_code)


def print_warnings(loaded: object) -> None:
    """Print a loaded spec's warnings (e.g. a secret written in the spec) to stderr."""
    for issue in getattr(loaded, "warnings", ()):
        click.secho(f"warning: {issue}", fg="yellow", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fteval")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="Run-store database file  [default: $FTEVAL_STORE or .fteval/runs.db]",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--allow-credential",
    "allow_credentials",
    multiple=True,
    metavar="SECRET@HOST",
    help="Let a spec's base file send this credential to this host, e.g. '$TEAM_KEY@llm.internal:8000' (repeatable).",
)
@click.pass_context
def main(ctx: click.Context, store: Path, debug: bool, allow_credentials: tuple[str, ...]) -> None:
    """Fine-tune and evaluate language models from one YAML spec."""
    ctx.obj = {"store": store or Path(os.environ.get("FTEVAL_STORE", ".fteval/runs.db")), "debug": debug}
    if allow_credentials:  # read by fteval.credential_routes.approved_routes when a spec is loaded
        earlier = os.environ.get("FTEVAL_ALLOW_CREDENTIALS", "")
        os.environ["FTEVAL_ALLOW_CREDENTIALS"] = "\n".join([earlier, *allow_credentials]).strip()


from fteval.cli import (  # noqa: E402  (registers the commands)
    cancel_cmds,
    compare_cmds,
    export_cmds,
    init_cmds,
    judge_cmds,
    rate_cmds,
    report_cmds,
    run_cmds,
    share_cmds,
    spec_cmds,
    store_cmds,
)

__all__ = [
    "cancel_cmds",
    "compare_cmds",
    "export_cmds",
    "init_cmds",
    "judge_cmds",
    "main",
    "print_warnings",
    "rate_cmds",
    "report_cmds",
    "run_cmds",
    "share_cmds",
    "spec_cmds",
    "store_cmds",
]
