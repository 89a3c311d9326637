"""Loading pretrained causal LMs and tokenizers (hub id or local directory, dtype, 8/4-bit), and their identity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fteval.identity import directory_digest
from fteval_hf.config import HubModel

__all__ = ["MODEL_FILES", "hub_identity", "hub_token", "load_pretrained", "load_tokenizer", "model_identity"]

# The files of a model directory that decide its outputs: weights, configs, tokenizer, remote code.
MODEL_FILES = (
    "*.safetensors",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.gguf",
    "*.json",
    "*.model",
    "*.txt",
    "*.tiktoken",
    "*.py",
    "*.jinja",
)
_COMMIT = re.compile(r"[0-9a-f]{40}")


def _cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit of the cached snapshot that ``revision`` points to, read from the local hub cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision or "main")
    if isinstance(found, str):
        commit = Path(found).parent.name  # <cache>/models--org--name/snapshots/<commit>/config.json
        return commit if _COMMIT.fullmatch(commit) else None
    return None


def _hub_commit(repo_id: str, revision: str | None) -> tuple[str | None, str]:
    """The commit ``revision`` resolves to on the hub, or None and why the hub could not tell (offline, no access)."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        return None, "HF_HUB_OFFLINE is set"
    try:
        return HfApi().model_info(repo_id, revision=revision, timeout=10).sha, ""
    except Exception as exc:  # no network, no access, hub errors: the caller falls back to the cache
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        return None, f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


def _resolved(repo_id: str, revision: str | None) -> tuple[str, str | None]:
    """``hub:<id>@<commit>``, and why neither the hub nor the local cache knows the model (None when one does)."""
    cached = _cached_commit(repo_id, revision)
    if revision and _COMMIT.fullmatch(revision):
        why = None if cached else _hub_commit(repo_id, revision)[1] or None
        return f"hub:{repo_id}@{revision}", why
    commit, why = _hub_commit(repo_id, revision)
    commit = commit or cached
    return f"hub:{repo_id}@{commit or revision or 'main'}", None if commit else why


def hub_identity(repo_id: str, revision: str | None) -> str:
    """``hub:<id>@<commit>``: the commit ``revision`` resolves to on the hub, or offline in the local cache.

    A pinned commit is used as is. When neither the hub nor the cache can tell, the identity is
    ``hub:<id>@<revision>`` (the name only: outputs of a moving branch are then not told apart).
    """
    return _resolved(repo_id, revision)[0]


def model_identity(spec: HubModel) -> str:
    """A local directory's content hash (``dir-sha256:...``) or a hub model's resolved commit.

    Raises:
        fteval.errors.PluginError: a hub id that neither the hub (offline, unreachable, unknown) nor
            the local hub cache has: one line at once, instead of minutes of download retries.
    """
    local = Path(spec.id).expanduser()
    if local.is_dir():
        return f"dir-sha256:{directory_digest(local, MODEL_FILES)}"
    identity, missing = _resolved(spec.id, spec.revision)
    if missing is not None:
        from fteval.errors import PluginError

        raise PluginError(
            f"model.id {spec.id!r} is not a local folder (a folder is written ./{spec.id}), and neither the hub"
            f" ({missing}) nor the local hub cache has it"
        )
    return identity


def hub_token(spec: HubModel) -> str | None:
    """The hub token from the environment variable ``spec.token_env`` names (None: the hub's defaults).

    Raises:
        fteval.errors.PluginError: the variable is named but not set.
    """
    from fteval.spec.credentials import secret_from_env

    return secret_from_env(spec.token_env, "model.token_env")


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return getattr(torch, name)


def _quantization(spec: HubModel, device: str) -> Any:
    """A BitsAndBytesConfig for 8/4-bit loading, or None; a clear error without CUDA."""
    if not (spec.load_in_8bit or spec.load_in_4bit):
        return None
    bits = 8 if spec.load_in_8bit else 4
    if not device.startswith("cuda"):
        raise RuntimeError(
            f"load_in_{bits}bit needs a CUDA GPU (bitsandbytes); this run's device is {device}. "
            f"Remove load_in_{bits}bit from the target's model section to load full weights."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"load_in_{bits}bit needs bitsandbytes: pip install bitsandbytes") from exc
    import torch
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4")


def load_tokenizer(source: str, revision: str | None = None, token: str | None = None) -> Any:
    """A tokenizer with a pad token (EOS when it has none); ``token`` authenticates to the hub."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source, revision=revision, token=token)
    if tok.eos_token_id is None:
        raise ValueError(f"the tokenizer of {source} has no EOS token; completions could not end")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_pretrained(spec: HubModel, device: str) -> Any:
    """Load ``spec.id`` with AutoModelForCausalLM on ``device`` (quantised if asked).

    Args:
        spec: the target's model section.
        device: a torch device string from :func:`fteval_hf.devices.pick_device`.

    Returns:
        The model, on ``device``.

    Raises:
        RuntimeError: for 8/4-bit loading without CUDA or bitsandbytes.
    """
    from transformers import AutoModelForCausalLM

    quant = _quantization(spec, device)
    kwargs: dict[str, Any] = {"revision": spec.revision, "dtype": _dtype(spec.dtype, device), "token": hub_token(spec)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": device})
    model: Any = AutoModelForCausalLM.from_pretrained(spec.id, **kwargs)
    return model if quant is not None else model.to(device)
