"""Generic output parsers: text, regex, choice and json."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fteval.plugin import Parsed, Parser, PluginConfig


class TextConfig(PluginConfig):
    """Options of the ``text`` parser."""

    mode: Literal["strip", "first_line"] = Field("strip", description="Keep the whole stripped text, or its first non-empty line.")
    lowercase: bool = Field(False, description="Lower-case the result.")


class TextParser(Parser):
    """Plain text: stripped (or its first line); empty output is a failure."""

    Config = TextConfig
    default_metrics = ("exact_match", "format_rate")

    def parse(self, text: str) -> Parsed:
        value = text.strip()
        if self.config.mode == "first_line":
            value = next((line.strip() for line in value.splitlines() if line.strip()), "")
        if not value:
            return Parsed.fail("empty output")
        return Parsed(ok=True, value=value.lower() if self.config.lowercase else value)


class RegexConfig(PluginConfig):
    """Options of the ``regex`` parser."""

    pattern: str = Field(description="Python regular expression searched in the output.")
    group: str | int = Field("answer", description="Named (or numbered) group to keep; 0 = whole match.")
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL"]] = Field(default_factory=list, description="re flags.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _group_exists(self) -> RegexConfig:
        groups = re.compile(self.pattern).groupindex
        if isinstance(self.group, str) and self.group not in groups:
            raise ValueError(f"pattern has no group named {self.group!r}; named groups: {sorted(groups) or 'none'}")
        return self


class RegexParser(Parser):
    """The first match of a pattern, keeping one group."""

    Config = RegexConfig
    default_metrics = ("exact_match", "format_rate")

    def __init__(self, config: RegexConfig | None = None) -> None:
        super().__init__(config)
        flags = 0
        for name in self.config.flags:
            flags |= getattr(re, name)
        self._regex = re.compile(self.config.pattern, flags)

    def parse(self, text: str) -> Parsed:
        match = self._regex.search(text)
        if match is None:
            return Parsed.fail("pattern not found")
        value = match.group(self.config.group)
        return Parsed(ok=True, value=value.strip()) if value is not None else Parsed.fail("group did not match")


class ChoiceConfig(PluginConfig):
    """Options of the ``choice`` parser."""

    labels: list[str] = Field(min_length=1, description="The allowed labels.")


class ChoiceParser(Parser):
    """One label of a fixed set (case-insensitive, surrounding punctuation ignored); anything else fails."""

    Config = ChoiceConfig
    default_metrics = ("accuracy", "format_rate")

    def parse(self, text: str) -> Parsed:
        cleaned = text.strip().strip(".!\"'` \n").casefold()
        for label in self.config.labels:
            if cleaned == label.casefold():
                return Parsed(ok=True, value=label)
        return Parsed.fail(f"not one of {self.config.labels}: {text.strip()[:40]!r}")


class JsonParser(Parser):
    """A JSON value; a fenced ```json block is unwrapped first."""

    default_metrics = ("exact_match", "format_rate")
    _fence = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

    def parse(self, text: str) -> Parsed:
        match = self._fence.search(text)
        body = (match.group(1) if match else text).strip()
        if not body:
            return Parsed.fail("empty output")
        try:
            return Parsed(ok=True, value=json.loads(body))
        except (json.JSONDecodeError, RecursionError) as exc:
            return Parsed.fail(f"invalid JSON: {exc}")
