"""Commands for sharing specs: resolve (the merged spec, and where each value came from), specs (shipped by packages)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import click

from fteval.spec.yamlsafe import SourceMap, format_path


def _leaves(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    """(key path, value) of every scalar (and empty mapping or list) under ``data``, in order."""
    if isinstance(data, dict) and data:
        return [leaf for key, value in data.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(data, list) and data:
        return [leaf for i, value in enumerate(data) for leaf in _leaves(value, (*path, i))]
    return [(path, data)]


def _where(source: SourceMap, path: tuple[str | int, ...]) -> str:
    file, line, _ = source.locate(path)
    if file is None:
        return "?"
    shown = os.path.relpath(file) if not os.path.relpath(file).startswith("../..") else str(file)
    return f"{shown}:{line}" if line else shown


def _yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)  # keeps the spec's key order
    yaml.default_flow_style = False
    yaml.width = 4096  # long prompts stay on one line, as in the spec files
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--why", is_flag=True, help="Every value with the file and line it came from.")
def resolve(spec: Path, why: bool) -> None:
    """Print SPEC merged with everything it extends (dataset paths made absolute); not validated.

    Secret-looking values (``oauth_token: ...``, URL passwords, token shapes) print as ``<redacted>``.
    """
    from fteval.redaction import redact
    from fteval.spec.loader import merged_spec

    data, source, files = merged_spec(spec)
    data = redact(data)
    if not why:
        click.echo(_yaml(data), nl=False)
        return
    click.echo("# files, base first: " + " -> ".join(os.path.relpath(f) for f in reversed(files)))
    for path, value in _leaves(data):
        rendered = json.dumps(value, ensure_ascii=False)  # a JSON scalar is a YAML flow scalar
        click.echo(f"{format_path(path)}: {rendered}  # {_where(source, path)}")
    for path, (file, line, _) in source.removed.items():
        click.echo(f"{format_path(path)}: null  # removed by {_where(SourceMap({(): (file, line, 1)}), ())}")


@click.command("specs")
def specs_cmd() -> None:
    """List the specs installed packages ship (extend one with extends: pkg:PACKAGE/FILE.yaml)."""
    from fteval.spec.specpkgs import shipped_specs
    from fteval.spec.yamlsafe import load_yaml

    found = shipped_specs()
    if not found:
        click.echo("no installed package ships specs")
    for ref, path in found:
        data, _ = load_yaml(path)
        about = data.get("description", "") if isinstance(data, dict) else ""
        click.echo(f"{ref}  {about}".rstrip())
