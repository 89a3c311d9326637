"""Generic output parsers: text, regex, choice and json."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fteval.plugin import Breakdown, Outcome, Parsed, Parser, PluginConfig, nfc
from fteval_generic.breakdowns import classification_breakdowns


class TextConfig(PluginConfig):
    """Options of the ``text`` parser."""

    mode: Literal["strip", "first_line"] = Field(
        "strip", description="Keep the whole stripped text, or its first non-empty line."
    )
    lowercase: bool = Field(False, description="Lower-case the result.")


class TextParser(Parser[TextConfig]):
    """Plain text: stripped (or its first line); empty output is a failure."""

    Config = TextConfig
    default_metrics = ("exact_match", "format_rate")

    def parse(self, text: str) -> Parsed:
        value = nfc(text).strip()
        if self.config.mode == "first_line":
            value = next((line.strip() for line in value.splitlines() if line.strip()), "")
        if not value:
            return Parsed.fail("empty output")
        return Parsed(ok=True, value=value.lower() if self.config.lowercase else value)


_INLINE_FLAGS = {"IGNORECASE": "i", "MULTILINE": "m", "DOTALL": "s"}


def _re2_compile(pattern: str) -> Any:
    """Compile with RE2 (linear-time matching, no catastrophic backtracking).

    Raises:
        ValueError: syntax RE2 does not support (backreferences, lookaround) or an invalid pattern.
    """
    try:
        import re2  # type: ignore[import-untyped]
    except ImportError:  # a stale environment: reported as a spec error on the pattern, with the fix
        raise ValueError("the regex parser needs google-re2: pip install google-re2") from None

    options = re2.Options()
    options.log_errors = False  # the error comes back as a message, not as a line on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"invalid regular expression: {reason} (patterns use RE2 syntax, which runs in "
            "linear time: no backreferences or lookaround)"
        ) from None


class RegexConfig(PluginConfig):
    """Options of the ``regex`` parser."""

    pattern: str = Field(description="Regular expression (RE2 syntax, linear-time) searched in the output.")
    group: str | int = Field("answer", description="Named (or numbered) group to keep; 0 = whole match.")
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL"]] = Field(default_factory=list, description="re flags.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _re2_compile(value)
        return value

    @model_validator(mode="after")
    def _group_exists(self) -> RegexConfig:
        groups = _re2_compile(self.pattern).groupindex
        if isinstance(self.group, str) and self.group not in groups:
            raise ValueError(f"pattern has no group named {self.group!r}; named groups: {sorted(groups) or 'none'}")
        return self


class RegexParser(Parser[RegexConfig]):
    """The first match of a pattern, keeping one group; RE2 matches in time linear in the output."""

    Config = RegexConfig
    default_metrics = ("exact_match", "format_rate")

    def __init__(self, config: RegexConfig | None = None) -> None:
        super().__init__(config)
        inline = "".join(_INLINE_FLAGS[name] for name in self.config.flags)
        self._regex = _re2_compile(f"(?{inline})" + self.config.pattern if inline else self.config.pattern)

    def parse(self, text: str) -> Parsed:
        match = self._regex.search(nfc(text))
        if match is None:
            return Parsed.fail("pattern not found")
        value = match.group(self.config.group)
        return Parsed(ok=True, value=value.strip()) if value is not None else Parsed.fail("group did not match")


class ChoiceConfig(PluginConfig):
    """Options of the ``choice`` parser."""

    labels: list[str] = Field(min_length=1, description="The allowed labels.")
    allow_surrounding_text: bool = Field(
        False,
        description=(
            "Accept an output that contains exactly one of the labels as a whole word, with any text "
            "around it (e.g. 'The answer is yes.'). Off by default: the output must be the label alone."
        ),
    )


class ChoiceParser(Parser[ChoiceConfig]):
    """One label of a fixed set (case-insensitive, surrounding punctuation ignored); anything else fails."""

    Config = ChoiceConfig
    default_metrics = ("accuracy", "macro_f1", "format_rate")

    def parse(self, text: str) -> Parsed:
        cleaned = nfc(text).strip().strip(".!\"'` \n").casefold()
        for label in self.config.labels:
            if cleaned == nfc(label).casefold():
                return Parsed(ok=True, value=label)
        if self.config.allow_surrounding_text:
            return self._find(nfc(text))
        return Parsed.fail(f"not one of {self.config.labels}: {text.strip()[:40]!r}")

    def breakdowns(self, outcomes: Sequence[Outcome]) -> list[Breakdown]:
        """Per-class precision/recall/F1, the confusion matrix and the label distribution."""
        return classification_breakdowns(self.config.labels, outcomes, self.parse)

    def _find(self, text: str) -> Parsed:
        """The one label found as a whole word in ``text``; none or several different ones fail."""
        folded = text.casefold()
        found = [
            label
            for label in self.config.labels
            if re.search(rf"(?<!\w){re.escape(nfc(label).casefold())}(?!\w)", folded) is not None
        ]
        # a label inside a longer one ("not spam" holds "spam") counts once, as the longer label
        found = [a for a in found if not any(a != b and nfc(a).casefold() in nfc(b).casefold() for b in found)]
        if len(found) == 1:
            return Parsed(ok=True, value=found[0])
        if not found:
            return Parsed.fail(f"none of {self.config.labels} in the output: {text.strip()[:40]!r}")
        return Parsed.fail(f"several labels in the output ({', '.join(found)}): {text.strip()[:40]!r}")


class JsonParser(Parser):
    """A JSON value; a fenced ```json block is unwrapped first."""

    default_metrics = ("exact_match", "format_rate")
    _fence = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

    def parse(self, text: str) -> Parsed:
        text = nfc(text)
        match = self._fence.search(text)
        body = (match.group(1) if match else text).strip()
        if not body:
            return Parsed.fail("empty output")
        try:
            return Parsed(ok=True, value=json.loads(body))
        except (json.JSONDecodeError, RecursionError) as exc:
            return Parsed.fail(f"invalid JSON: {exc}")
