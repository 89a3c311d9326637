"""The ViGGO meaning-representation grammar: scan ``function(slot[value], ...)`` strictly.

Grammar (``ws`` is any whitespace; see README.md)::

    mr    := ws* NAME ws* "(" ws* [ slot ( ws* "," ws* slot )* ] ws* ")" ws*
    slot  := NAME ws* "[" VALUE "]"
    NAME  := [A-Za-z_][A-Za-z0-9_]*
    VALUE := any characters except "[" and "]"  (commas, quotes, spaces, parentheses are fine)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LIST_SLOTS",
    "MRSyntaxError",
    "MeaningRepresentation",
    "canonical",
    "find_mr",
    "scan_mr",
    "snippet",
    "starts_like_mr",
]

#: Slots whose value is a comma-separated list of items, compared as a set.
LIST_SLOTS = frozenset({"genres", "platforms", "player_perspective"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_WS = re.compile(r"\s*")
# A possible MR start: a name not glued to a preceding word character, then "(".
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*\s*\(", re.ASCII)
_SNIPPET = 40


class MRSyntaxError(ValueError):
    """A malformed MR; ``reason`` says what is wrong and ``pos`` where."""

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


@dataclass(frozen=True)
class MeaningRepresentation:
    """A parsed MR: the function name and its slots in the order written (values stripped)."""

    function: str
    slots: tuple[tuple[str, str], ...]

    def to_text(self) -> str:
        """The MR in the data set's own spelling: ``f(a[x], b[y])``."""
        inner = ", ".join(f"{name}[{value}]" for name, value in self.slots)
        return f"{self.function}({inner})"


def snippet(text: str) -> str:
    """A short quoted excerpt of ``text`` for error messages."""
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _expect_name(text: str, pos: int, what: str) -> tuple[str, int]:
    match = _NAME.match(text, pos)
    if match is None:
        got = snippet(text[pos:]) if pos < len(text) else "the end of the text"
        raise MRSyntaxError(f"expected {what}, got {got}", pos)
    return match.group(), match.end()


def _scan_value(text: str, pos: int, slot: str) -> tuple[str, int]:
    """Read a value starting just after ``[``; return it and the position after ``]``."""
    close = text.find("]", pos)
    opened = text.find("[", pos)
    if close < 0:
        raise MRSyntaxError(f"unbalanced brackets: '[' of slot {slot!r} is never closed", pos)
    if 0 <= opened < close:
        raise MRSyntaxError(f"unbalanced brackets: '[' inside the value of slot {slot!r}", opened)
    return text[pos:close].strip(), close + 1


def scan_mr(text: str, start: int = 0) -> tuple[MeaningRepresentation, int]:
    """Scan one MR beginning at ``start`` (leading whitespace allowed).

    Args:
        text: The text to read.
        start: Where the MR (or whitespace before it) begins.

    Returns:
        The MR and the position just after its closing ``)`` and any whitespace after it.

    Raises:
        MRSyntaxError: The text at ``start`` is not a well-formed MR.
    """
    pos = _skip_ws(text, start)
    function, pos = _expect_name(text, pos, "a function name")
    pos = _skip_ws(text, pos)
    if not text.startswith("(", pos):
        raise MRSyntaxError(f"expected '(' after function {function!r}", pos)
    pos = _skip_ws(text, pos + 1)
    slots: list[tuple[str, str]] = []
    seen: set[str] = set()
    if text.startswith(")", pos):
        return MeaningRepresentation(function, ()), _skip_ws(text, pos + 1)
    while True:
        name, pos = _expect_name(text, pos, "a slot name")
        if name in seen:
            raise MRSyntaxError(f"slot {name!r} appears twice", pos)
        seen.add(name)
        pos = _skip_ws(text, pos)
        if not text.startswith("[", pos):
            raise MRSyntaxError(f"expected '[' after slot {name!r}", pos)
        value, pos = _scan_value(text, pos + 1, name)
        slots.append((name, value))
        pos = _skip_ws(text, pos)
        if text.startswith(")", pos):
            return MeaningRepresentation(function, tuple(slots)), _skip_ws(text, pos + 1)
        if not text.startswith(",", pos):
            if pos >= len(text):
                raise MRSyntaxError("unbalanced brackets: '(' is never closed", pos)
            if text.startswith("]", pos):
                raise MRSyntaxError(f"unbalanced brackets: stray ']' after slot {name!r}", pos)
            raise MRSyntaxError(f"expected ',' or ')' after slot {name!r}", pos)
        pos = _skip_ws(text, pos + 1)


def starts_like_mr(text: str) -> bool:
    """Whether ``text`` (after leading whitespace) begins with ``name(``, i.e. tries to be an MR."""
    return _CANDIDATE.match(text, _skip_ws(text, 0)) is not None


def find_mr(text: str) -> tuple[MeaningRepresentation, int, int] | None:
    """The first well-formed MR anywhere in ``text``, with its start and end, or None."""
    for match in _CANDIDATE.finditer(text):
        try:
            mr, end = scan_mr(text, match.start())
        except MRSyntaxError:
            continue
        return mr, match.start(), end
    return None


def _list_items(value: str) -> list[str]:
    """Items of a list-valued slot as a sorted set; empty items are dropped."""
    return sorted({item.strip() for item in value.split(",")} - {""})


def canonical(mr: MeaningRepresentation) -> dict[str, Any]:
    """Order-insensitive JSON form: sorted slot keys, list-valued slots as sorted item lists."""
    slots: dict[str, Any] = {}
    for name, value in sorted(mr.slots):
        slots[name] = _list_items(value) if name in LIST_SLOTS else value
    return {"function": mr.function, "slots": slots}
