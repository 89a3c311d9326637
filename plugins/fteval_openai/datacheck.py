"""Check chat fine-tuning data before any upload, like the OpenAI cookbook's validator.

Format errors name the row and the reason; token counts give the per-example limit check, the
billed tokens (tokens x epochs), a cost estimate and the seeded ``max_train_tokens`` cut.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fteval.errors import FtevalError
from fteval.plugin import Example

__all__ = ["DataReport", "check_records", "default_epochs", "fit_budget", "format_errors", "training_record"]

ROLES = ("system", "user", "assistant", "function", "tool")
MESSAGE_KEYS = {"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"}
# The service's automatic epoch choice (cookbook): 3, raised/lowered to keep examples x epochs in range.
DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MAX_DEFAULT_EPOCHS = 3, 100, 25_000, 25


def training_record(example: Example) -> dict[str, Any]:
    """One chat fine-tuning line, exactly as ``fteval export --format openai`` writes it."""
    return {"messages": [*example.prompt.messages(), {"role": "assistant", "content": example.target}]}


def _record_errors(record: Any) -> list[str]:
    if not isinstance(record, Mapping):
        return [f"not a JSON object ({type(record).__name__})"]
    errors = [f"unknown key {key!r} (only 'messages')" for key in record if key != "messages"]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*errors, "missing or empty 'messages' list"]
    for i, message in enumerate(messages):
        where = f"message {i}"
        if not isinstance(message, Mapping):
            errors.append(f"{where} is not an object")
            continue
        if "role" not in message or "content" not in message:
            errors.append(f"{where} lacks 'role' or 'content'")
        errors += [f"{where} has unknown key {k!r}" for k in message if k not in MESSAGE_KEYS]
        if "role" in message and message["role"] not in ROLES:
            errors.append(f"{where} has unknown role {message['role']!r}")
        content = message.get("content")
        if (
            "content" in message
            and (not isinstance(content, str) or not content.strip())
            and not message.get("function_call")
        ):
            errors.append(f"{where} ({message.get('role', '?')}) has missing or empty content")
    if not any(isinstance(m, Mapping) and m.get("role") == "assistant" for m in messages):
        errors.append("no assistant message")
    return errors


def format_errors(records: Sequence[Any]) -> list[tuple[int, str]]:
    """(row, reason) for every format error, rows numbered from 0 as in the spec's split."""
    return [(row, reason) for row, record in enumerate(records) for reason in _record_errors(record)]


def default_epochs(n_examples: int) -> int:
    """The epochs the service picks when ``n_epochs`` is auto."""
    if n_examples * DEFAULT_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, -(-MIN_TARGET_EXAMPLES // max(n_examples, 1)))
    if n_examples * DEFAULT_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // n_examples)
    return DEFAULT_EPOCHS


@dataclass(frozen=True)
class DataReport:
    """What a file would cost: per-example tokens, the epochs, billed tokens and the estimate."""

    tokens: list[int]
    epochs: int
    training_per_1k: float

    @property
    def billed_tokens(self) -> int:
        """Tokens x epochs."""
        return sum(self.tokens) * self.epochs

    @property
    def cost_usd(self) -> float:
        """Estimated training cost."""
        return self.billed_tokens * self.training_per_1k / 1000


def check_records(
    records: Sequence[Any], *, split: str, context: int, epochs: int | None, training_per_1k: float
) -> DataReport:
    """Validate records and count their tokens.

    Raises:
        FtevalError: format errors or examples over ``context`` tokens, each with its row number.
    """
    from fteval_openai.tokens import count_messages

    return checked_report(
        records,
        format_errors(records),
        lambda r: count_messages(r["messages"]),
        data=f"the {split} data",
        rows="example(s)",
        split=split,
        context=context,
        epochs=epochs,
        training_per_1k=training_per_1k,
    )


def checked_report(
    records: Sequence[Any],
    errors: Iterable[tuple[int, str]],
    count: Callable[[Any], int],
    *,
    data: str,
    rows: str,
    split: str,
    context: int,
    epochs: int | None,
    training_per_1k: float,
) -> DataReport:
    """The token report of records whose format ``errors`` were found, or an error listing each bad row.

    Raises:
        FtevalError: format errors, or rows over ``context`` tokens as ``count`` counts them.
    """
    problems = [f"{split} row {row}: {reason}" for row, reason in errors]
    if problems:
        raise FtevalError(_listing(f"{len(problems)} format error(s) in {data}; nothing was uploaded", problems))
    tokens = [count(r) for r in records]
    long = [
        f"{split} row {row}: {n} tokens > the model's limit of {context}" for row, n in enumerate(tokens) if n > context
    ]
    if long:
        raise FtevalError(_listing(f"{len(long)} {rows} too long in the {split} data; nothing was uploaded", long))
    return DataReport(tokens, epochs or default_epochs(len(records)), training_per_1k)


def fit_budget(tokens: Sequence[int], epochs: int, max_tokens: int | None, seed: int) -> list[int]:
    """Rows to keep so that tokens x epochs <= ``max_tokens``: drop rows in a seeded random order.

    Raises:
        FtevalError: not even one example fits.
    """
    keep = list(range(len(tokens)))
    if max_tokens is None or sum(tokens) * epochs <= max_tokens:
        return keep
    order = keep.copy()
    random.Random(seed).shuffle(order)
    total, dropped = sum(tokens) * epochs, set()
    for row in order:
        if total <= max_tokens:
            break
        dropped.add(row)
        total -= tokens[row] * epochs
    if len(dropped) == len(tokens):
        raise FtevalError(f"max_train_tokens={max_tokens} is too small for even one example x {epochs} epochs")
    return [row for row in keep if row not in dropped]


def _listing(head: str, lines: list[str], most: int = 20) -> str:
    shown = lines[:most] + ([f"... and {len(lines) - most} more"] if len(lines) > most else [])
    return "\n  ".join([head + ":", *shown])
