"""The manifest of a saved hf model folder: how it was trained, its base model, its fingerprint.

A folder is saved under a temporary name and renamed into place once its manifest is written, so a
folder with a manifest is complete, and the manifest is what the generator reloads the model from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fteval.data.textfile import TextFileError, read_regular
from fteval.errors import PluginError
from fteval.plugin import ModelHandle

__all__ = ["MANIFEST", "is_saved", "read_manifest", "save_model", "saved_handle"]

MANIFEST = "fteval_hf.json"  # written last into a saved model folder: its presence means "complete"


def is_saved(folder: Path) -> bool:
    """Whether ``folder`` holds a completely saved model."""
    return (folder / MANIFEST).exists()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a saved model folder, or None when there is none."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    # a restored store may hold anything here: read it bounded (a link to /dev/zero is refused)
    try:
        data: dict[str, Any] = json.loads(read_regular(path, 1 << 20).decode("utf-8"))
    except (TextFileError, ValueError) as exc:
        raise PluginError(f"model manifest {path} is damaged ({exc}); delete the job folder to retrain") from None
    return data


def save_model(model: Any, tokenizer: Any, out: Path, manifest: dict[str, Any]) -> str:
    """Save model (or adapter) and tokenizer, then the manifest, atomically into ``out``.

    Args:
        model: A transformers or peft model.
        tokenizer: Its tokenizer.
        out: The folder to create (replaced if it exists).
        manifest: ``method``, ``base`` (how to find the base model again), ``prompt_format``, ...

    Returns:
        The fingerprint of the saved files and base, also written into the manifest.
    """
    from fteval_hf.checkpoint import fingerprint_dir

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    fingerprint = fingerprint_dir(tmp, json.dumps(manifest["base"], sort_keys=True))
    (tmp / MANIFEST).write_text(json.dumps({**manifest, "fingerprint": fingerprint}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return fingerprint


def saved_handle(out: Path) -> ModelHandle:
    """The handle of a saved model folder, its manifest as the handle's metadata."""
    manifest = read_manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"no {MANIFEST} in {out}: the model was not saved completely")
    return ModelHandle(trainer="hf", fingerprint=manifest["fingerprint"], location=str(out), meta=manifest)
