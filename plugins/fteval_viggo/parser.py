"""The ``viggo`` parser: model text -> canonical ViGGO MR, or a failure with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from fteval.plugin import Breakdown, Outcome, Parsed, Parser, PluginConfig, nfc
from fteval_viggo.breakdowns import viggo_breakdowns
from fteval_viggo.mr import MRSyntaxError, canonical, find_mr, scan_mr, snippet, starts_like_mr

__all__ = ["ViggoParser", "ViggoParserConfig"]


class ViggoParserConfig(PluginConfig):
    """Options of the ``viggo`` parser."""

    allow_surrounding_text: bool = Field(
        False,
        description=(
            "Accept the first well-formed MR found anywhere in the output and ignore the text "
            "around it. Off by default: text before or after the MR is a parse failure."
        ),
    )


class ViggoParser(Parser[ViggoParserConfig]):
    """Parses ``function(slot[value], ...)``; the value is order-insensitive canonical JSON."""

    Config = ViggoParserConfig
    default_metrics: ClassVar[tuple[str, ...]] = (
        "char_exact",
        "exact_match",
        "function_accuracy",
        "slot_precision",
        "slot_recall",
        "slot_f1",
        "parse_rate",
    )

    def parse(self, text: str) -> Parsed:
        """Parse one output; malformed text gives ``Parsed.fail(reason)``, never an exception.

        Args:
            text: Raw model output.

        Returns:
            ``Parsed`` whose value is ``{"function": ..., "slots": {...}}`` (see README.md).
        """
        text = nfc(text)
        if not text.strip():
            return Parsed.fail("empty output")
        try:
            mr, end = scan_mr(text)
        except MRSyntaxError as error:
            return self._recover(text, error)
        if end < len(text) and not self.config.allow_surrounding_text:
            if text[end] in ")]":
                return Parsed.fail(f"unbalanced brackets: stray {text[end]!r} after the MR")
            return Parsed.fail(f"text after the MR: {snippet(text[end:])}")
        return Parsed(ok=True, value=canonical(mr))

    def breakdowns(self, outcomes: Sequence[Outcome]) -> list[Breakdown]:
        """Accuracy per gold function and F1 per slot."""
        return viggo_breakdowns(outcomes, self.parse)

    def _recover(self, text: str, error: MRSyntaxError) -> Parsed:
        """Handle an output that does not start with an MR: find one later, or explain why not."""
        found = find_mr(text)
        if found is not None:
            mr, start, _ = found
            if self.config.allow_surrounding_text:
                return Parsed(ok=True, value=canonical(mr))
            return Parsed.fail(f"text before the MR: {snippet(text[:start])}")
        if not starts_like_mr(text):
            return Parsed.fail(f"free text, no 'function(' at the start: {snippet(text.strip())}")
        return Parsed.fail(f"{error.reason} (at character {error.pos})")
