"""Training rows as tokens: encoding a split (with truncation counts) and batching rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fteval.plugin import Example
from fteval_hf.formatting import Encoded, PromptFormat, encode_example

__all__ = ["EncodedSplit", "batch_of", "encode_split"]


@dataclass(frozen=True)
class EncodedSplit:
    """A split's encoded rows; rows whose completion was cut away entirely are dropped."""

    rows: list[Encoded]
    truncated: int
    dropped: int

    @property
    def token_ids(self) -> list[tuple[int, ...]]:
        """Per row, prompt + completion ids (what the batch planner takes)."""
        return [r.ids for r in self.rows]

    @property
    def prompt_lengths(self) -> list[int]:
        """Per row, the number of prompt tokens."""
        return [r.prompt_len for r in self.rows]


def encode_split(
    tokenizer: Any, examples: Sequence[Example], max_len: int, fmt: PromptFormat = "plain"
) -> EncodedSplit:
    """Encode examples for training; counts rows cut at ``max_len``.

    Args:
        tokenizer: the model's tokenizer.
        examples: rendered examples (prompt + target).
        max_len: longest row kept; longer rows lose their end.
        fmt: prompt format.

    Returns:
        The encoded split.
    """
    rows = [encode_example(tokenizer, ex.prompt, ex.target, max_len, fmt) for ex in examples]
    kept = [r for r in rows if r.prompt_len < len(r.ids)]
    return EncodedSplit(rows=kept, truncated=sum(r.truncated for r in rows), dropped=len(rows) - len(kept))


def batch_of(
    rows: Sequence[Encoded], pad_id: int, loss_on: Literal["completion", "all"] = "completion"
) -> dict[str, Any]:
    """Right-padded tensors of encoded rows (see :func:`fteval_hf.loss.collate`)."""
    from fteval_hf.loss import collate

    return collate(
        [r.ids[: r.prompt_len] for r in rows],
        [r.ids[r.prompt_len :] for r in rows],
        pad_token_id=pad_id,
        loss_on=loss_on,
    )
