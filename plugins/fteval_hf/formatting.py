"""How a prompt and its target become tokens: one function pair used by training and generation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fteval.plugin import Prompt

__all__ = ["Encoded", "encode_prompt", "encode_example", "prompt_text"]

PromptFormat = Literal["plain", "chat"]


def prompt_text(prompt: Prompt) -> str:
    """The plain-text prompt: system and user joined by a blank line, ending in whitespace.

    The trailing newline marks where the completion starts when the user text does not
    already end in whitespace (the reference prompts end in ``### ...:\\n``).
    """
    text = f"{prompt.system}\n\n{prompt.user}" if prompt.system else prompt.user
    return text if text[-1:].isspace() else text + "\n"


def encode_prompt(tokenizer: Any, prompt: Prompt, fmt: PromptFormat = "plain") -> list[int]:
    """Token ids of a prompt, with the tokenizer's BOS (plain) or its chat template (chat).

    Args:
        tokenizer: a transformers tokenizer.
        prompt: the rendered prompt.
        fmt: ``plain`` text or the tokenizer's ``chat`` template with a generation prompt.

    Returns:
        The ids the model sees before the completion.
    """
    if fmt == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("prompt_format: chat needs a tokenizer with a chat template")
        ids = tokenizer.apply_chat_template(
            prompt.messages(), add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return list(ids["input_ids"] if isinstance(ids, dict) else ids)
    return list(tokenizer(prompt_text(prompt), add_special_tokens=True)["input_ids"])


@dataclass(frozen=True)
class Encoded:
    """A training row: ``ids`` = prompt + target + EOS; the first ``prompt_len`` are the prompt."""

    ids: tuple[int, ...]
    prompt_len: int
    truncated: bool


def encode_example(tokenizer: Any, prompt: Prompt, target: str, max_len: int, fmt: PromptFormat = "plain") -> Encoded:
    """Encode a training row; prompt and target are tokenized apart so generation sees the same ids.

    Args:
        tokenizer: a transformers tokenizer with an EOS token.
        prompt: the rendered prompt.
        target: the gold completion.
        max_len: rows longer than this are cut at the end.
        fmt: prompt format, as in :func:`encode_prompt`.

    Returns:
        The encoded row; ``truncated`` says whether it was cut.
    """
    head = encode_prompt(tokenizer, prompt, fmt)
    tail = list(tokenizer(target, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    ids = head + tail
    return Encoded(ids=tuple(ids[:max_len]), prompt_len=min(len(head), max_len), truncated=len(ids) > max_len)
