"""The offline default: Llama presets and a byte-level BPE tokenizer trained on the data."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["PRESETS", "build_scratch_model", "shared_start", "train_tokenizer"]

# hidden, layers, heads, MLP width; embeddings tied (tiny: ~3.7M parameters with 2,000 tokens).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 688,
    },
    "small": {
        "hidden_size": 512,
        "num_hidden_layers": 8,
        "num_attention_heads": 8,
        "intermediate_size": 1376,
    },
}
BOS, EOS, PAD = "<s>", "</s>", "<pad>"


def train_tokenizer(texts: Iterable[str], vocab_size: int, whole: Sequence[str] = ()) -> Any:
    """Train a byte-level BPE tokenizer (BOS added to every encoding) and wrap it for transformers.

    Args:
        texts: the training text (prompts and targets).
        vocab_size: vocabulary size including the special tokens.
        whole: strings added to the vocabulary as one token each (matched before BPE, wherever they occur).

    Returns:
        A ``PreTrainedTokenizerFast`` with bos, eos and pad tokens (``save_pretrained`` works).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(text, normalized=False) for text in whole if text])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, padding_side="right"
    )


def shared_start(texts: Sequence[str]) -> str:
    """The text every one of ``texts`` starts with (e.g. an instruction before each row's own part)."""
    return os.path.commonprefix(list(texts)) if len(texts) > 1 else ""


def build_scratch_model(preset: str, tokenizer: Any, max_positions: int, seed: int) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` of the preset's shape, sized to the tokenizer.

    Args:
        preset: a key of :data:`PRESETS`.
        tokenizer: the tokenizer the model will use (gives vocabulary and special ids).
        max_positions: longest sequence the model is configured for.
        seed: seeds the weight initialisation.

    Returns:
        The model, in float32 on the CPU.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **PRESETS[preset],
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)
