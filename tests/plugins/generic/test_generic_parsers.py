"""The generic parsers: text, regex, choice, json; they never raise on model output."""

from __future__ import annotations

import pytest
from fteval_generic.parsers import ChoiceParser, JsonParser, RegexParser, TextParser
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.fast


def test_text_strip_and_first_line() -> None:
    assert TextParser().parse("  hello world \n").value == "hello world"
    first = TextParser(TextParser.Config(mode="first_line", lowercase=True))
    assert first.parse("\n\n  Yes.\nbecause").value == "yes."
    assert not TextParser().parse(" \n ").ok


def test_regex_named_group_and_failure() -> None:
    parser = RegexParser(RegexParser.Config(pattern=r"answer:\s*(?P<answer>\d+)", flags=["IGNORECASE"]))
    assert parser.parse("So the ANSWER: 42.").value == "42"
    assert parser.parse("no number here").error == "pattern not found"


def test_regex_config_errors_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="invalid regular expression"):
        RegexParser.Config(pattern="(unclosed")
    with pytest.raises(ValidationError, match="no group named 'answer'"):
        RegexParser.Config(pattern=r"\d+")


def test_choice_is_case_insensitive_and_strict() -> None:
    parser = ChoiceParser(ChoiceParser.Config(labels=["yes", "no"]))
    assert parser.parse(" YES. ").value == "yes"
    assert parser.parse("No").value == "no"
    failed = parser.parse("maybe yes")
    assert not failed.ok and "not one of" in failed.error


def test_json_plain_and_fenced() -> None:
    assert JsonParser().parse('{"a": [1, 2]}').value == {"a": [1, 2]}
    assert JsonParser().parse('Here:\n```json\n{"a": 1}\n```').value == {"a": 1}
    assert not JsonParser().parse("{'a': 1}").ok
    assert not JsonParser().parse("").ok


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_no_parser_raises_on_any_text(text: str) -> None:
    parsers = [
        TextParser(),
        JsonParser(),
        ChoiceParser(ChoiceParser.Config(labels=["a"])),
        RegexParser(RegexParser.Config(pattern=r"(?P<answer>\w+)")),
    ]
    for parser in parsers:
        parsed = parser.parse(text)
        assert parsed.ok or parsed.error


def test_deeply_nested_json_is_a_failure_not_a_crash() -> None:
    assert not JsonParser().parse("[" * 100_000).ok
