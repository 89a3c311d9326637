"""A Llama forward for greedy evaluation without importing transformers (it needs only torch).

Loading a model through transformers imports about 2 s of modules on a 2-core machine
(torch.distributed, dynamo, scipy through the loss registry) before the first token, while a
4M-parameter model decodes the whole ViGGO test split in about 4 s. For a plain Llama-layout
folder (``config.json`` of ``model_type: llama`` with default rotary embeddings, one
``model.safetensors``) this module builds modules with transformers' attribute names and runs the
same operations in the same order (RMSNorm, rotary tables, projections, the same SDPA calls and
masks, SiLU MLP), so :mod:`fteval_hf.static_decode` decodes it unchanged and outputs are
token-identical to transformers' (tests compare both with padding, a shared prefix, grouped-query
attention and early ends). Anything else loads through transformers: see :func:`native_reason`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NativeConfig", "NativeLlama", "attend", "load_native", "native_reason", "rotate_half"]

WEIGHTS = "model.safetensors"
# config.json keys whose values change the maths; any other value than these means "not native".
_REQUIRED = {"hidden_act": "silu", "attention_bias": False, "mlp_bias": False, "pretraining_tp": 1}


@dataclass(frozen=True)
class NativeConfig:
    """The fields of a Llama config.json that the forward and :mod:`static_decode` read."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    rms_norm_eps: float
    rope_theta: float
    tie_word_embeddings: bool
    model_type: str = "llama"
    pretraining_tp: int = 1
    _attn_implementation: str = "sdpa"
    rope_parameters: dict[str, Any] = field(default_factory=lambda: {"rope_type": "default"})


def _rope_theta(raw: dict[str, Any]) -> float | None:
    """The rotary base of a default (unscaled) rotary embedding, or None for any other kind."""
    params = raw.get("rope_parameters")
    if raw.get("rope_scaling") is not None:  # transformers 4's scaling (5 still reads it)
        return None
    if params is None:  # transformers 4 layout: rope_theta at the top
        theta = raw.get("rope_theta", 10000.0)
        return theta if isinstance(theta, int | float) else None
    if not isinstance(params, dict) or params.get("rope_type", "default") != "default":
        return None
    theta = params.get("rope_theta")
    return theta if isinstance(theta, int | float) else None


def read_config(folder: Path) -> tuple[NativeConfig | None, str]:
    """The folder's config as a :class:`NativeConfig`, or None and why it is not a plain Llama."""
    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        return None, f"config.json unreadable ({type(exc).__name__})"
    if not isinstance(raw, dict) or raw.get("model_type") != "llama":
        return None, "not a llama config"
    for key, value in _REQUIRED.items():
        if raw.get(key, value) != value:
            return None, f"config.json {key}: {raw.get(key)!r} (the native forward knows {value!r})"
    if raw.get("dtype", raw.get("torch_dtype", "float32")) != "float32":
        return None, "weights are not float32"
    theta = _rope_theta(raw)
    if theta is None:
        return None, "rotary embedding is not the default (unscaled) one"
    try:
        heads = int(raw["num_attention_heads"])
        hidden = int(raw["hidden_size"])
        config = NativeConfig(
            hidden_size=hidden,
            intermediate_size=int(raw["intermediate_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim") or hidden // heads),
            vocab_size=int(raw["vocab_size"]),
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
            rope_theta=theta,
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"config.json lacks or mistypes {exc}"
    return config, ""


def native_reason(folder: Path) -> str | None:
    """Why ``folder`` cannot run natively (None: it can): weights, config and tokenizer are checked.

    A folder runs natively when it holds one float32 ``model.safetensors``, a plain Llama
    ``config.json`` and a tokenizer that :mod:`fteval_hf.native_tokenizer` reads exactly.
    """
    from fteval_hf.native_tokenizer import tokenizer_reason

    if not (folder / WEIGHTS).is_file():
        return f"no single {WEIGHTS}"
    config, why = read_config(folder)
    if config is None:
        return why
    return tokenizer_reason(folder)


def _meta(*shape: int) -> nn.Parameter:
    """A weight with a shape and no storage, until the checkpoint's tensor is assigned to it."""
    return nn.Parameter(torch.empty(*shape, device="meta"))


class _Linear(nn.Linear):
    """``nn.Linear`` (same forward) without a bias, built without initialising weights it will not keep.

    ``nn.Linear``'s own initialisation imports torch's init machinery on first use (about 1 s here).
    """

    def __init__(self, fan_in: int, fan_out: int) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = fan_in, fan_out
        self.weight = _meta(fan_out, fan_in)
        self.register_parameter("bias", None)


class _Embedding(nn.Embedding):
    """``nn.Embedding`` (same forward), built without initialising weights it will not keep."""

    def __init__(self, count: int, dim: int) -> None:
        nn.Module.__init__(self)
        self.num_embeddings, self.embedding_dim, self.padding_idx = count, dim, None
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = None, 2.0, False, False
        self.weight = _meta(count, dim)


class RMSNorm(nn.Module):
    """transformers' LlamaRMSNorm: float32 variance, ``weight * normalized``."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = _meta(size)
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Normalize the last dimension."""
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class Rotary(nn.Module):
    """transformers' default rotary embedding: cos/sin tables of the positions asked for."""

    inv_freq: torch.Tensor

    def __init__(self, dim: int, theta: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin [B, L, D] for ``position_ids`` [B, L]."""
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


class Attention(nn.Module):
    """The projections of one attention block (the maths is in :meth:`NativeLlama.forward`)."""

    def __init__(self, c: NativeConfig) -> None:
        super().__init__()
        self.q_proj = _Linear(c.hidden_size, c.num_attention_heads * c.head_dim)
        self.k_proj = _Linear(c.hidden_size, c.num_key_value_heads * c.head_dim)
        self.v_proj = _Linear(c.hidden_size, c.num_key_value_heads * c.head_dim)
        self.o_proj = _Linear(c.num_attention_heads * c.head_dim, c.hidden_size)


class MLP(nn.Module):
    """transformers' LlamaMLP with SiLU: ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, c: NativeConfig) -> None:
        super().__init__()
        self.gate_proj = _Linear(c.hidden_size, c.intermediate_size)
        self.up_proj = _Linear(c.hidden_size, c.intermediate_size)
        self.down_proj = _Linear(c.intermediate_size, c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The gated feed-forward block."""
        out: torch.Tensor = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return out


class Layer(nn.Module):
    """One decoder layer's modules, named as in transformers."""

    def __init__(self, c: NativeConfig) -> None:
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class Inner(nn.Module):
    """The decoder stack (``model.model`` in transformers)."""

    def __init__(self, c: NativeConfig) -> None:
        super().__init__()
        self.embed_tokens = _Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.rotary_emb = Rotary(c.head_dim, c.rope_theta)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """The rotary embedding's half rotation (as transformers' Llama computes it)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _sdpa_mask(padding: torch.Tensor | None, length: int, past: int) -> torch.Tensor | None:
    """transformers' SDPA mask for ``length`` queries after ``past`` cached keys: None when is_causal will do.

    ``padding`` [B, past + length] is 1 for real tokens. Otherwise a boolean [B, 1, L, past + L]
    mask, True where a query may attend (causal and not padding).
    """
    total = past + length
    if (length == 1 or total == length) and (padding is None or bool(padding.all())):
        return None
    queries = torch.arange(length).add(past).view(1, 1, -1, 1)
    keys = torch.arange(total).view(1, 1, 1, -1)
    mask = keys <= queries
    if padding is not None:
        mask = mask & padding.bool()[:, None, None, :]
    rows = padding.shape[0] if padding is not None else 1
    return mask.expand(rows, -1, length, total)


class NativeLlama(nn.Module):
    """A Llama causal LM with transformers' module names, for prefill and :mod:`static_decode`."""

    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Inner(config)
        self.lm_head = _Linear(config.hidden_size, config.vocab_size)

    def forward(
        self,
        ids: torch.Tensor,
        positions: torch.Tensor,
        padding: torch.Tensor | None = None,
        past: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Last-position logits [B, V] and every layer's keys/values (past included) after ``ids`` [B, L].

        Args:
            ids: token ids, left-padded.
            positions: rotary positions [B, L].
            padding: 1 for real tokens over past and new columns [B, P + L]; None: no padding.
            past: per layer, cached keys and values [B or 1, H, P, D] (a batch-1 past is broadcast).
        """
        c, inner = self.config, self.model
        rows, length = ids.shape
        past_len = past[0][0].shape[2] if past else 0
        hidden = inner.embed_tokens(ids)
        cos, sin = inner.rotary_emb(hidden, positions)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        mask = _sdpa_mask(padding, length, past_len)
        groups = c.num_attention_heads // c.num_key_value_heads
        shape = (rows, length, -1, c.head_dim)
        cache: list[tuple[torch.Tensor, torch.Tensor]] = []
        for i, layer in enumerate(cast(list[Layer], inner.layers)):
            attn = layer.self_attn
            residual = hidden
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(shape).transpose(1, 2)
            k = attn.k_proj(x).view(shape).transpose(1, 2)
            v = attn.v_proj(x).view(shape).transpose(1, 2)
            q, k = (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)
            if past:
                pk, pv = past[i]
                k = torch.cat([pk.expand(rows, -1, -1, -1), k], dim=-2)
                v = torch.cat([pv.expand(rows, -1, -1, -1), v], dim=-2)
            cache.append((k, v))
            out = attend(q, k, v, mask, groups, c.head_dim**-0.5)
            out = out.reshape(rows, length, -1).contiguous()
            hidden = residual + attn.o_proj(out)
            residual = hidden
            hidden = residual + layer.mlp(layer.post_attention_layernorm(hidden))
        hidden = inner.norm(hidden)
        logits: torch.Tensor = self.lm_head(hidden[:, -1:, :])[:, -1].float()
        return logits, cache


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, groups: int, scale: float
) -> torch.Tensor:
    """transformers' SDPA attention call (same GQA choice, same causal flag); [B, L, H, D].

    A prefill's, and the lean decode step's (one query per row: ``mask`` given, grouped heads packed).
    """
    length, extra = q.shape[2], {}
    if groups > 1:
        if mask is None and k.shape[-1] <= 256:
            extra["enable_gqa"] = True
        elif length == 1:
            q = q.reshape(q.shape[0], q.shape[1] // groups, groups, q.shape[-1])
        else:
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
    causal = length > 1 and mask is None
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, is_causal=causal, **extra)
    out = out.reshape(out.shape[0], -1, length, v.shape[-1])
    return out.transpose(1, 2).contiguous()


def load_native(folder: Path) -> NativeLlama:
    """The model in ``folder`` (checked by :func:`native_reason`), on the CPU, in eval mode.

    Raises:
        fteval.errors.PluginError: the weights file is unreadable or does not match the config
            (missing, unexpected or misshaped tensors, named).
    """
    from safetensors.torch import load_file

    from fteval.errors import PluginError

    config, why = read_config(folder)
    if config is None:
        raise PluginError(f"{folder} is not a plain Llama model: {why}")
    model = NativeLlama(config)
    path = folder / WEIGHTS
    try:
        weights = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for a damaged or foreign file
        raise PluginError(f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc})") from exc
    if config.tie_word_embeddings:
        weights.pop("lm_head.weight", None)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight")
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [
        f"{k} is {tuple(w.shape)}, config.json makes it {expected[k]}"
        for k, w in weights.items()
        if k in expected and tuple(w.shape) != expected[k]
    ]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise PluginError(f"{path} does not match config.json: {'; '.join(problems[:3])}{more}")
    model.load_state_dict(weights, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model.eval()
