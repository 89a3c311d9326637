"""Prefix caching: which models can run a batch as one cached prefix plus per-row suffixes.

Shared by the training loss (``loss.py``) and generation (``decode.py``): the capability check, the
``auto`` threshold, broadcasting a batch-1 cache over rows, and the forward options both use. Every
model call passes its cache as ``cache=`` and reads ``output.cache``, the names transformers 5.24
introduced (earlier releases call both ``past_key_values``); see the hf extra in pyproject.toml.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Literal

__all__ = [
    "MIN_SHARED_PREFIX",
    "SharedPrefix",
    "accepts",
    "base_model",
    "expand_cache",
    "last_logit_kwargs",
    "supports_shared_prefix",
]

SharedPrefix = Literal["auto", "on", "off"]
# Below this many shared tokens `auto` keeps the plain path: the extra forward call costs about what
# it saves. Measured with `benchmarks/shared_prefix.py --threshold` (tiny preset, 32 rows of 60 own
# tokens, 2 CPU threads): 2 shared tokens 0.98x, 4: 1.03x, 8: 1.10x, 16: 1.17x, 64: 1.91x.
MIN_SHARED_PREFIX = 8


def base_model(model: Any) -> Any:
    """The transformers model under a peft wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def accepts(model: Any, name: str) -> bool:
    """Whether the underlying model's forward takes keyword ``name``."""
    cls: Any = type(base_model(model))
    return name in _forward_params(cls)


@functools.cache
def _forward_params(cls: Any) -> frozenset[str]:
    """Keyword names of a model class's forward."""
    return frozenset(inspect.signature(cls.forward).parameters)


def supports_shared_prefix(model: Any) -> bool:
    """Whether a model can run a batch as one cached prefix plus per-row suffixes.

    Needs a decoder-only model whose forward takes a ``cache`` and whose cache is a plain
    full-attention ``DynamicCache``; gradient checkpointing (which re-runs layers and would append
    to the cache twice) and prompt-learning peft adapters are excluded.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    base = base_model(model)
    config = getattr(base, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    checkpointing = getattr(type(base), "is_activation_checkpointing", None)
    if checkpointing is not None and base.is_activation_checkpointing:
        return False
    if checkpointing is None and getattr(base, "is_gradient_checkpointing", False):
        return False
    peft_config = getattr(model, "active_peft_config", None)
    if peft_config is not None and getattr(peft_config, "is_prompt_learning", False):
        return False
    if not accepts(model, "cache"):
        return False
    try:
        layers = DynamicCache(config=config).layers
    except Exception:  # an unknown config layout simply means "not supported"
        return False
    return all(type(layer) is DynamicLayer for layer in layers)


def expand_cache(cache: Any, rows: int) -> None:
    """Make a batch-1 DynamicCache serve ``rows`` rows as a broadcast view (no copy; grads sum back).

    Unlike ``batch_repeat_interleave`` this copies nothing: the first ``update`` concatenates the
    rows' own keys onto the view, which is the only copy of the prefix that is made.
    """
    for layer in cache.layers:
        if getattr(layer, "is_initialized", False) and layer.keys.numel():
            layer.keys = layer.keys.expand(rows, -1, -1, -1)
            layer.values = layer.values.expand(rows, -1, -1, -1)


def last_logit_kwargs(model: Any) -> dict[str, int]:
    """Forward kwargs that skip the vocabulary projection of all but one position, when supported."""
    return {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
