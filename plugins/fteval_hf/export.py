"""Exporting an hf target's model as a standalone Hugging Face folder (no fteval needed to load it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from fteval.errors import PluginError
from fteval.plugin import ExportedModel, ModelHandle, Prompt
from fteval_hf.config import GGUFModel, HFConfig, HubModel
from fteval_hf.manifest import MANIFEST, read_manifest

__all__ = ["export_model"]

ADAPTER_CONFIG = "adapter_config.json"


def _readable(folder: Path) -> None:
    """Files 0644 and folders 0755: a release is read by other users and services (saves are 0600)."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o755)
        for name in files:
            os.chmod(Path(root) / name, 0o644)
    os.chmod(folder, 0o755)


def _copy_saved(source: Path, out: Path) -> None:
    """The saved folder's files, without fteval's manifest (it names paths in the store)."""
    out.mkdir(parents=True)
    for item in sorted(source.iterdir()):
        if item.is_file() and item.name != MANIFEST:
            shutil.copyfile(item, out / item.name)


def _base_of_adapter(base: dict[str, Any]) -> tuple[str, str | None]:
    """The hub id (or folder outside the store) and revision an adapter's base loads from, for peft."""
    if base.get("id"):
        identity = str(base.get("identity") or "")
        commit = identity.rsplit("@", 1)[-1] if identity.startswith("hub:") else None
        local = Path(str(base["id"])).expanduser()
        return (str(local.resolve()), None) if local.is_dir() else (str(base["id"]), commit or base.get("revision"))
    what = "a scratch model kept in the run store" if "dir" in base else "a GGUF file de-quantized in a cache"
    raise PluginError(f"this adapter's base is {what}, which a standalone folder cannot name: export with --merge")


def _merged(config: HFConfig, location: Path, manifest: dict[str, Any], out: Path) -> None:
    """Load the base, merge the adapter into it, and save plain weights and the tokenizer."""
    from transformers import AutoModelForCausalLM

    from fteval_hf.loading import load_pretrained, load_tokenizer
    from fteval_hf.lora import load_adapter

    base = manifest["base"]
    if base.get("dir"):
        model = AutoModelForCausalLM.from_pretrained(base["dir"])
    elif isinstance(config.model, GGUFModel):
        from fteval_hf.gguf import local_model

        model = load_pretrained(local_model(config.model), "cpu")
    elif isinstance(config.model, HubModel):
        model = load_pretrained(config.model.model_copy(update={"device": "cpu"}), "cpu")
    else:
        raise PluginError(f"the adapter in {location} names no base model it can be merged into")
    merged = load_adapter(model, str(location), merge=True)
    merged.save_pretrained(out)
    load_tokenizer(str(location)).save_pretrained(out)


def _point_adapter_at_base(out: Path, base_id: str, revision: str | None) -> None:
    """Record the adapter's base as peft reads it (``base_model_name_or_path``, ``revision``)."""
    path = out / ADAPTER_CONFIG
    adapter = json.loads(path.read_text(encoding="utf-8"))
    adapter["base_model_name_or_path"] = base_id
    adapter["revision"] = revision
    path.write_text(json.dumps(adapter, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _example_input(out: Path, example: Prompt, fmt: str) -> str:
    """The text the model sees for ``example``: its ids decoded with the special tokens kept."""
    from fteval_hf.formatting import encode_prompt
    from fteval_hf.loading import load_tokenizer

    tokenizer = load_tokenizer(str(out))
    return str(tokenizer.decode(encode_prompt(tokenizer, example, fmt), skip_special_tokens=False))  # type: ignore[arg-type]


def export_model(config: HFConfig, handle: ModelHandle, out: Path, *, merge: bool, example: Prompt) -> ExportedModel:
    """Write the model of ``handle`` into ``out`` (which must not exist) as a standalone folder.

    Args:
        config: the target's validated config (how a LoRA target's base loads).
        handle: the trained (or scratch base) model's handle.
        out: the folder to create.
        merge: for a LoRA target, merge the adapter into the base weights instead of exporting it.
        example: a rendered prompt, shown as the model sees it in the model card.

    Returns:
        What was written, with the folder's identity as a target naming it computes it.

    Raises:
        PluginError: a hub model evaluated as it is (nothing to export), or an adapter whose base
            only exists inside fteval's store or cache (without ``merge``).
    """
    from fteval_hf.loading import model_identity

    location = Path(handle.location or "")
    manifest = read_manifest(location)
    if manifest is None:
        raise PluginError(
            f"the model of this run ({handle.location}) is not a saved fteval model folder:"
            " a model evaluated as it is is already released under its own name"
        )
    method = manifest.get("method", "full")
    fmt = str(manifest.get("prompt_format", config.train.prompt_format))
    base_id: str | None = None
    kind: Any = "full"
    if method == "lora" and merge:
        _merged(config, location, manifest, out)
        kind = "merged"
        base_id = manifest["base"].get("id")
    elif method == "lora":
        base_id, revision = _base_of_adapter(manifest["base"])
        _copy_saved(location, out)
        _point_adapter_at_base(out, base_id, revision)
        kind = "adapter"
    else:
        _copy_saved(location, out)
        base_id = manifest["base"].get("id")
    _readable(out)
    identity = model_identity(HubModel(id=str(out)))
    return ExportedModel(
        identity=identity,
        kind=kind,
        library="peft" if kind == "adapter" else "transformers",
        prompt_format=fmt,
        example_input=_example_input(out, example, fmt),
        base_model=base_id,
        files=tuple(sorted(p.name for p in out.iterdir())),
    )
