"""Cost caps on model outputs: how much text a parser or metric is given, and how long a generation may be.

A parser or metric on a megabyte of text can take minutes and gigabytes (sqlglot on a 1 MB
output: ~30 s, 1 GB). The engine applies these caps centrally, before any plugin sees the text,
so every parser and metric is protected without knowing about it.
"""

from __future__ import annotations

import dataclasses

from fteval.plugin import Generation, GenerationSettings

__all__ = ["CHARS_PER_TOKEN", "cut_generation", "generation_bound", "over_limit"]

#: Generous upper bound on characters per generated token (real tokenizers average 3-5).
CHARS_PER_TOKEN = 32


def generation_bound(settings: GenerationSettings) -> int:
    """Most characters a generation may have: ``max_new_tokens * CHARS_PER_TOKEN``."""
    return settings.max_new_tokens * CHARS_PER_TOKEN


def cut_generation(generation: Generation, settings: GenerationSettings) -> tuple[Generation, str | None]:
    """A generation cut to :func:`generation_bound`, with the reason when it was longer.

    A generator is asked for at most ``max_new_tokens`` tokens; a longer text (an API ignoring the
    setting, a bug) is cut here before it is cached, parsed or stored.

    Returns:
        The (possibly cut) generation and ``None``, or the cut one and why it was cut.
    """
    bound = generation_bound(settings)
    size = len(generation.text)
    if size <= bound:
        return generation, None
    reason = (
        f"generator returned {size:,} characters for max_new_tokens={settings.max_new_tokens}"
        f" (over the bound of {bound:,} = {CHARS_PER_TOKEN} per token); cut to {bound:,}, not parsed or scored"
    )
    cut = dataclasses.replace(generation, text=generation.text[:bound])
    return cut, reason


def over_limit(text: str, limit: int, what: str = "output") -> str | None:
    """Why ``text`` is too long to parse or score (``what`` names it), or ``None`` when it is within ``limit``."""
    if len(text) <= limit:
        return None
    return (
        f"{what} is {len(text):,} characters, over the {limit:,} limit (limits.max_output_chars);"
        f" not parsed or scored, stored truncated to the first {limit:,}"
    )
