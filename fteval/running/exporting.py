"""``fteval export-model``: a run's trained model as a standalone folder with a model card, linked in the store."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fteval import registry
from fteval.errors import UsageError
from fteval.plugin import ExportedModel, Prompt, Trainer
from fteval.running.modelcard import model_card
from fteval.spec.model import Target
from fteval.storage.records import RunRecord
from fteval.storage.refs import resolve_run
from fteval.storage.store import Store

__all__ = ["Export", "export_run"]


@dataclass(frozen=True)
class Export:
    """What ``export_run`` wrote, and from which run and job."""

    folder: Path
    run: RunRecord
    job_id: str | None
    model: ExportedModel


def _trainer(run: RunRecord) -> Trainer:
    """The run's trainer with the target config it ran with (from the run's stored, resolved spec)."""
    target = Target.model_validate((run.spec.get("targets") or {})[run.target])
    with registry.install_hint("trainer", target.trainer):
        cls = registry.load("trainer", target.trainer)
    try:
        config = cls.Config.model_validate(target.plugin_section())
    except ValidationError as exc:  # e.g. the base model folder it was trained from is gone
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"run {run.id}: its target config no longer validates ({where}: {first['msg']})") from None
    return cls(config)


def _refuse_holding_folder(store: Store, folder: Path) -> None:
    """Refuse a folder that holds the run store or the current directory.

    Replacing such a folder (``--force``) would delete the store the export is recorded in, or the
    user's project (``fteval export-model latest . --force``).

    Raises:
        UsageError: naming the folder and what it holds.
    """
    target = folder.expanduser().resolve()
    for held in (store.path.resolve(), Path.cwd().resolve()):
        if held == target or target in held.parents:
            raise UsageError(
                f"{folder} holds the run store or the current directory ({held}): export into a new folder"
            )


def export_run(store: Store, ref: str, folder: Path, *, merge: bool = False, force: bool = False) -> Export:
    """Write the model a run evaluated into ``folder``, with a README.md model card, and record the export.

    Args:
        store: the run store.
        ref: a run id, tag, label, ``latest`` or ``latest~K``.
        folder: the folder to create (written as ``<folder>.partial`` and renamed when complete).
        merge: merge a LoRA adapter into its base weights.
        force: replace ``folder`` if it exists.

    Raises:
        UsageError: no such run, the run is not complete, has no training job, or ``folder`` exists and is not
            empty (without ``force``).
        PluginError: the trainer cannot export this model.
    """
    run = resolve_run(store, ref)
    if run.status != "complete":
        raise UsageError(f"run {run.id} is {run.status}: finish it (run the same command again) before exporting")
    job = store.job_by_id(run.job_id) if run.job_id else None
    if job is None or job.handle is None:
        raise UsageError(f"run {run.id} has no finished training job whose model could be exported")
    _refuse_holding_folder(store, folder)
    occupied = any(folder.iterdir()) if folder.is_dir() else folder.exists()
    if occupied and not force:
        raise UsageError(f"{folder} exists and is not empty: choose a new folder, or pass --force to replace it")
    examples = store.examples(run.id, limit=1)
    example = examples[0] if examples else None
    prompt = Prompt(example.prompt.get("system"), example.prompt.get("user", "")) if example else Prompt(None, "")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with registry.install_hint("trainer", run.trainer):
            exported = _trainer(run).export_model(job.handle, partial, merge=merge, example=prompt)
        card = model_card(run, store.aggregates(run.id), job, example, exported, str(folder))
        (partial / "README.md").write_text(card, encoding="utf-8")
        (partial / "README.md").chmod(0o644)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
    partial.rename(folder)
    store.add_export(str(folder.resolve()), exported.identity, run.id, job.id, exported.kind)
    return Export(folder, run, job.id, exported)
