"""Pull one SQL statement out of free model output (fences, "SQL:" prefixes, trailing text)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```(?:[ \t]*[A-Za-z0-9_+-]*[ \t]*\n)?(.*?)(?:```|\Z)", re.DOTALL)
_PREFIX = re.compile(r"^\s*(?:sql|sqlite|query|answer)\s*:\s*", re.IGNORECASE)
_CLOSE = {"'": "'", '"': '"', "`": "`", "[": "]"}


def extract_sql(text: str) -> str | None:
    """The first SQL statement in ``text``, without its semicolon; None when there is none.

    Args:
        text: raw model output.

    Returns:
        The statement, stripped, or None for empty output.
    """
    fence = _FENCE.search(text)
    body = fence.group(1) if fence else text
    body = _PREFIX.sub("", body, count=1)
    first = first_statement(body).strip()
    return first or None


def first_statement(sql: str) -> str:
    """Text up to the first semicolon outside quotes and comments."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _CLOSE:
            end = sql.find(_CLOSE[ch], i + 1)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == ";":
            return sql[:i]
        i += 1
    return sql
