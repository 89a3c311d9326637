"""Loading pretrained causal LMs and tokenizers (hub id or local directory, dtype, 8/4-bit)."""

from __future__ import annotations

from typing import Any

from fteval_hf.config import HubModel

__all__ = ["hub_token", "load_pretrained", "load_tokenizer"]


def hub_token(spec: HubModel) -> str | None:
    """The hub token from the environment variable ``spec.token_env`` names (None: the hub's defaults).

    Raises:
        fteval.errors.PluginError: the variable is named but not set.
    """
    from fteval.credentials import secret_from_env

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
        raise RuntimeError(
            f"load_in_{bits}bit needs bitsandbytes: pip install bitsandbytes"
        ) from exc
    import torch
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4"
    )


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
    model = AutoModelForCausalLM.from_pretrained(spec.id, **kwargs)
    return model if quant is not None else model.to(device)
