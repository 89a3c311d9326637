"""Preference (DPO) fine-tuning data in the OpenAI format: records from examples, format checks, token counts.

One line per pair: ``{"input": {"messages": [...]}, "preferred_output": [{"role": "assistant",
"content": ...}], "non_preferred_output": [...]}``, as the API's ``method: {type: dpo}`` jobs take.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fteval.plugin import Example, Prompt

__all__ = ["check_preference_records", "preference_errors", "preference_examples", "preference_record"]

KEYS = ("input", "preferred_output", "non_preferred_output")


def preference_record(example: Example) -> dict[str, Any]:
    """One DPO line: the prompt's messages, the target preferred and ``example.rejected`` not."""
    return {
        "input": {"messages": example.prompt.messages()},
        "preferred_output": [{"role": "assistant", "content": example.target}],
        "non_preferred_output": [{"role": "assistant", "content": example.rejected or ""}],
    }


def _answer(record: Mapping[str, Any], key: str) -> str | None:
    """The assistant text of ``preferred_output`` / ``non_preferred_output``, or None when malformed."""
    value = record.get(key)
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], Mapping):
        return None
    message = value[0]
    content = message.get("content")
    return content if message.get("role") == "assistant" and isinstance(content, str) else None


def _errors(record: Any) -> list[str]:
    if not isinstance(record, Mapping):
        return [f"not a JSON object ({type(record).__name__})"]
    errors = [f"unknown key {key!r} (only {', '.join(KEYS)})" for key in record if key not in KEYS]
    messages = record.get("input", {}).get("messages") if isinstance(record.get("input"), Mapping) else None
    if not isinstance(messages, list) or not any(isinstance(m, Mapping) and m.get("role") == "user" for m in messages):
        errors.append("'input.messages' must be a list with a user message")
    answers = {key: _answer(record, key) for key in KEYS[1:]}
    errors += [f"'{key}' must be one assistant message with text content" for key, a in answers.items() if a is None]
    preferred, rejected = answers["preferred_output"], answers["non_preferred_output"]
    if preferred is not None and rejected is not None:
        if not preferred.strip() or not rejected.strip():
            errors.append("an empty answer")
        elif preferred.strip() == rejected.strip():
            errors.append("the preferred and non-preferred answers are identical")
    return errors


def preference_errors(records: Sequence[Any]) -> list[tuple[int, str]]:
    """(row, reason) for every problem of every DPO record, rows numbered from 0."""
    return [(row, reason) for row, record in enumerate(records) for reason in _errors(record)]


def _tokens(record: Mapping[str, Any]) -> int:
    """Tokens of a pair: the prompt with each of its two answers."""
    from fteval_openai.tokens import count_messages

    messages = record["input"]["messages"]
    return count_messages([*messages, *record["preferred_output"]]) + count_messages(
        [*messages, *record["non_preferred_output"]]
    )


def check_preference_records(
    records: Sequence[Any], *, split: str, context: int, epochs: int | None, training_per_1k: float
) -> Any:
    """Validate DPO records and count their tokens (see ``fteval_openai.datacheck.check_records``).

    Raises:
        FtevalError: format errors or pairs over ``context`` tokens, each with its row number.
    """
    from fteval_openai.datacheck import checked_report

    return checked_report(
        records,
        preference_errors(records),
        _tokens,
        data=f"the {split} preference data",
        rows="pair(s)",
        split=split,
        context=context,
        epochs=epochs,
        training_per_1k=training_per_1k,
    )


def preference_examples(records: Sequence[Any]) -> list[Example]:
    """Validated DPO records -> examples (system, last user message; preferred as target, non-preferred as rejected)."""
    out = []
    for i, record in enumerate(records):
        by_role = {m["role"]: m["content"] for m in record["input"]["messages"] if isinstance(m, Mapping)}
        prompt = Prompt(by_role.get("system"), by_role.get("user", ""))
        preferred, rejected = _answer(record, "preferred_output"), _answer(record, "non_preferred_output")
        out.append(Example(i, {}, prompt, preferred or "", rejected))
    return out
