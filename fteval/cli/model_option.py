"""``--model``: evaluate another model in one target's place, as a partial spec over that target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fteval.errors import UsageError
from fteval.spec.loader import LoadedSpec, ResolvedTarget, load_spec, local_model_path

__all__ = ["model_overrides"]

# Keys naming the model itself: --model replaces them (a revision belongs to the replaced model).
_NAMING = ("id", "gguf", "revision")
# Keys that say how to run a model rather than which one: kept when the rest of the section must go.
_KEPT = ("device", "dtype")
# A model name used to ask a trainer whether it can evaluate a model named this way (no file or hub lookup).
_PROBE = "org/model"


def _source(model: str) -> dict[str, Any]:
    """``{gguf: ...}`` for a GGUF file (``*.gguf``, ``pkg:PACKAGE/FILE``), else ``{id: ...}``; local paths made absolute."""
    if model.startswith("pkg:"):
        return {"gguf": model}
    resolved = local_model_path(model, Path.cwd())  # typed at the shell: relative to where it was typed
    return {"gguf": resolved} if model.endswith(".gguf") else {"id": resolved}


def _candidates(written: dict[str, Any], source: dict[str, Any]) -> list[dict[str, Any]]:
    """Model sections to try, in order: the written one with its model swapped (keeps e.g. an API's base_url),
    then only the run options kept (e.g. a scratch model's ``init``/``preset`` go)."""
    swapped = {**{k: v for k, v in written.items() if k not in _NAMING}, **source}
    kept = {**{k: written[k] for k in _KEPT if k in written}, **source}
    return [swapped, kept]


def _model_section(target: ResolvedTarget, source: dict[str, Any]) -> dict[str, Any] | None:
    """The target's model section evaluating a model named like ``source``, or None when its trainer cannot."""
    probe = {k: _PROBE for k in source}
    for probed, section in zip(
        _candidates(target.spec.model, probe), _candidates(target.spec.model, source), strict=True
    ):
        try:
            target.trainer.Config.model_validate({**target.spec.plugin_section(), "model": probed})
        except ValidationError:
            continue
        return section
    return None


def model_overrides(spec: Path, model: str | None, targets: tuple[str, ...]) -> dict[str, Any] | None:
    """``--model`` as a partial spec: the one chosen target evaluates ``model`` as it is (``evaluator_only``).

    Raises:
        click.UsageError: not exactly one target named.
        UsageError: the target's trainer cannot evaluate a model named this way (the message lists the targets that can).
    """
    import click

    if model is None:
        return None
    if len(targets) != 1:
        raise click.UsageError("--model replaces one target's model: name exactly one target with -t")
    loaded: LoadedSpec = load_spec(spec, gold_rows=0)
    source = _source(model)
    target = loaded.targets.get(targets[0])
    if target is None:
        return None  # an unknown target is reported with the spec's targets
    section = _model_section(target, source)
    if section is None:
        able = [name for name, t in loaded.targets.items() if _model_section(t, source) is not None]
        raise UsageError(
            f"--model: target {target.name!r} (trainer {target.spec.trainer!r}) cannot evaluate a model named by"
            f" {next(iter(source))}; targets of {spec.name} that can: {', '.join(able) or 'none'}"
        )
    # None removes a key of the written model section (e.g. init, preset, revision of the replaced model)
    replaced = {**{k: None for k in target.spec.model if k not in section}, **section}
    return {"targets": {target.name: {"evaluator_only": True, "model": replaced}}}
