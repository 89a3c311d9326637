"""Commands that read specs without running models: validate, schema, plugins, export."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from fteval import registry
from fteval.cli.spec_warnings import print_warnings
from fteval.errors import FtevalError, SpecError
from fteval.spec.loader import LoadedSpec, load_spec


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(specs: tuple[Path, ...]) -> None:
    """Check specs completely (keys, types, plugins, templates, columns, gold answers) without running anything.

    Gold answers are rendered and parsed for 300 rows of each file split, spread from the first row to
    the last; ``run`` checks every row before it starts.
    """
    failed = False
    for path in specs:
        try:
            loaded = load_spec(path)
        except SpecError as exc:
            failed = True
            for issue in exc.issues:
                click.secho(str(issue), fg="red", err=True)
            continue
        print_warnings(loaded)
        n = len(loaded.spec.targets)
        click.echo(f"{path}: ok ({n} target{'' if n == 1 else 's'}: {', '.join(loaded.spec.targets)})")
        _print_credentials(loaded)
        for check in loaded.gold:
            if check.labels:
                sample = (
                    f", a sample of {check.checked:,} of {check.total:,} rows" if check.checked < check.total else ""
                )
                click.echo(f"  {check.split} gold labels{sample}: {check.distribution()}")
    if failed:
        sys.exit(2)


def _print_credentials(loaded: LoadedSpec) -> None:
    """One line per credential route: which secret each target sends to which host."""
    from fteval.spec.credential_routes import target_credentials

    for name, credential in target_credentials(loaded):
        sent = f"the key in {credential.secret}" if credential.secret else "no key"
        click.echo(f"  target {name} sends {sent} to {credential.host}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec format with every installed plugin's options (for editors)."""
    from fteval.spec.schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=2))


@click.command()
@click.option("--verbose", "-v", is_flag=True, help="Each plugin's options: type, default, description.")
def plugins(verbose: bool) -> None:
    """List installed plugins: kind, name, package, version, and the commands plugins add (with --verbose, options)."""
    from rich.console import Console
    from rich.table import Table

    from fteval.commands import registered

    table = Table("kind", "name", "package", "version", "entry point")
    for (kind, name), info in sorted(registry.discover().items()):
        table.add_row(kind, name, info.package, info.version, info.entry_point.value)
    for name, ep in sorted(registered().items()):
        dist = ep.dist
        table.add_row("command", name, dist.metadata["Name"] if dist else "?", dist.version if dist else "?", ep.value)
    console = Console()
    console.print(table)
    if verbose:
        for kind, name in sorted(registry.discover()):
            console.print(_options_table(kind, name))


def _options_table(kind: str, name: str) -> object:
    """One plugin's options (nested sections as dotted names), or why it cannot be loaded."""
    from rich.table import Table

    from fteval.errors import PluginError

    table = Table("option", "type", "default", "description", title=f"{kind} {name}", title_justify="left")
    try:
        cls = registry.load(kind, name)
    except PluginError as exc:
        table.add_row("-", "-", "-", f"cannot load: {exc}")
        return table
    rows = list(_option_rows(cls.Config))
    for row in rows:
        table.add_row(*row)
    if not rows:
        table.add_row("-", "-", "-", "no options")
    return table


def _option_rows(model: type, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    from pydantic import BaseModel
    from pydantic_core import PydanticUndefined

    for field_name, info in model.model_fields.items():  # type: ignore[attr-defined]
        key = prefix + (info.alias or field_name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield key, "section", "", info.description or ""
            yield from _option_rows(annotation, key + ".")
            continue
        kind = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        if info.is_required():
            default = "(required)"
        elif info.default_factory is not None:
            default = repr(info.default_factory())
        else:
            default = repr(info.default) if info.default is not PydanticUndefined else ""
        yield key, kind, default, info.description or ""


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["train", "valid", "eval"]), default="train", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openai", "prompt-completion"]),
    default="openai",
    show_default=True,
    help="openai: chat fine-tuning JSONL; prompt-completion: {prompt, completion} lines.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file (default: stdout).")
def export(spec: Path, split: str, fmt: str, output: Path | None) -> None:
    """Render a split of a spec to JSONL (e.g. to upload for OpenAI fine-tuning)."""
    from fteval.running.engine import render_examples

    examples = render_examples(load_spec(spec), split)
    if not examples:
        raise FtevalError(f"the spec has no dataset.{split}")
    lines = []
    for e in examples:
        if fmt == "openai":
            record: dict[str, object] = {"messages": [*e.prompt.messages(), {"role": "assistant", "content": e.target}]}
        else:
            record = {"prompt": e.prompt.messages(), "completion": e.target}
        lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(lines)} examples to {output}", err=True)
    else:
        click.echo(text, nl=False)
