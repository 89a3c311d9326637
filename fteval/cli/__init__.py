"""The ``fteval`` command line: one module per command group, loaded when used; errors without tracebacks."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from fteval import __version__
from fteval.errors import FtevalError
from fteval.redaction import redact_text

# Command name -> (module under fteval.cli, attribute). Modules are imported when their command runs,
# so ``fteval validate`` loads only what validating needs; ``--help`` imports them all for their help.
COMMANDS: dict[str, tuple[str, str]] = {
    "cancel": ("cancel_cmds", "cancel"),
    "compare": ("compare_cmds", "compare"),
    "eval": ("run_cmds", "eval_"),
    "export": ("spec_cmds", "export"),
    "export-model": ("export_cmds", "export_model"),
    "init": ("init_cmds", "init"),
    "judge": ("judge_cmds", "judge"),
    "plan": ("plan_cmds", "plan"),
    "plugins": ("spec_cmds", "plugins"),
    "rate": ("rate_cmds", "rate"),
    "report": ("report_cmds", "report"),
    "resolve": ("share_cmds", "resolve"),
    "run": ("run_cmds", "run"),
    "runs": ("store_cmds", "runs"),
    "schema": ("spec_cmds", "schema"),
    "show": ("store_cmds", "show"),
    "specs": ("share_cmds", "specs_cmd"),
    "tag": ("tag_cmds", "tag"),
    "train": ("run_cmds", "train"),
    "validate": ("spec_cmds", "validate"),
}


class _Group(click.Group):
    """The top-level group: built-in commands loaded lazily from ``COMMANDS``, then plugins' commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The built-in commands and those plugins register, sorted."""
        from fteval.commands import command_names

        return sorted({*COMMANDS, *self.commands, *command_names()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else one a plugin registers in ``fteval.commands`` (a built-in name wins)."""
        if cmd_name in COMMANDS:  # no entry-point scan for the commands fteval has
            module, attribute = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(f"fteval.cli.{module}"), attribute)
            return command
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        from fteval.commands import load_command

        return load_command(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FtevalError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(redact_text(str(exc)), fg="red", err=True)  # a plugin's message may quote a URL
            sys.exit(exc.exit_code)


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
    if allow_credentials:  # read by fteval.spec.credential_routes.approved_routes when a spec is loaded
        earlier = os.environ.get("FTEVAL_ALLOW_CREDENTIALS", "")
        os.environ["FTEVAL_ALLOW_CREDENTIALS"] = "\n".join([earlier, *allow_credentials]).strip()


__all__ = ["COMMANDS", "main"]
