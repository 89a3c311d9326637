"""A DPO job's training file: the API's preference lines as examples (the request itself: ``jobs_api``)."""

from __future__ import annotations

from typing import Any

__all__ = ["preference_examples_from_jsonl"]


def preference_examples_from_jsonl(content: bytes) -> tuple[list[Any], list[tuple[int, str]]]:
    """DPO lines -> examples (preferred as target, non-preferred as rejected), plus format errors by row."""
    import json

    from fteval_openai.preference import preference_errors, preference_examples

    records: list[Any] = []
    for line in content.decode("utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                records.append(f"invalid JSON: {exc}")
    errors = preference_errors(records)
    return ([], errors) if errors else (preference_examples(records), [])
