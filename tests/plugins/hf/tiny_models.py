"""A randomly initialised tiny Llama (about 100k parameters) for the hf plugin's tests."""

from __future__ import annotations

import torch
import transformers


def tiny_llama(
    vocab: int, *, pad: int, eos: int, seed: int = 0, init_range: float = 0.1, max_positions: int = 512
) -> transformers.LlamaForCausalLM:
    """A 2-layer Llama; a wider ``init_range`` spreads the logits so greedy decoding has no near-ties."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        pad_token_id=pad,
        eos_token_id=eos,
        initializer_range=init_range,
    )
    return transformers.LlamaForCausalLM(config)
