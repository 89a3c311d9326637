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


def assert_matches_generate(
    model: transformers.LlamaForCausalLM, rows: list[list[int]], outs: list[list[int]], *, eos: int, pad: int
) -> None:
    """Each output equals transformers' own greedy ``generate()`` of its prompt alone, up to EOS or the cap."""
    cap = max(len(o) for o in outs)
    for prompt, out in zip(rows, outs, strict=True):
        ref = model.generate(
            torch.tensor([prompt]), max_new_tokens=cap, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )[0, len(prompt) :].tolist()
        assert out == [t for t in ref if t != eos][: len(out)]
        assert len(out) == cap or ref[len(out)] == eos
