"""Reading a rater's ratings file (the page's JSON export, or the filled-in CSV) back against its sheet.

Every problem is reported at once with where it is (``file:line`` for CSV, ``file: ratings[i]`` for
JSON); nothing is stored unless the whole file is valid.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fteval.data.textfile import TextFileError, decode_utf8, read_regular
from fteval.errors import UsageError
from fteval.ratings.page import CSV_COLUMNS
from fteval.ratings.sheet import RatingSheet
from fteval.ratings.storage import Rating

__all__ = ["MAX_RATINGS_BYTES", "RatingsFile", "read_ratings_file", "to_ratings"]

#: A ratings file larger than this is refused (a full sheet of 10,000 items is a few MB).
MAX_RATINGS_BYTES = 64 << 20


@dataclass(frozen=True)
class _Entry:
    where: str
    item: Any
    output: Any
    rating: Any
    comment: str


@dataclass(frozen=True)
class RatingsFile:
    """A ratings file as read: its sheet id, the rater it names (if any) and its entries."""

    path: Path
    sheet_id: str
    rater: str | None
    entries: tuple[_Entry, ...]


def _read_json(path: Path, text: str) -> RatingsFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{path}: not a ratings file: JSON nested too deeply") from None
    if not isinstance(data, dict) or data.get("fteval_ratings") != 1:
        raise UsageError(f"{path}: not an fteval ratings file (expected the rating page's export, fteval_ratings: 1)")
    problems = []
    sheet, rater, entries = data.get("sheet"), data.get("rater"), data.get("ratings")
    if not isinstance(sheet, str) or not sheet:
        problems.append(f"{path}: sheet: missing or not a text")
    if rater is not None and not isinstance(rater, str):
        problems.append(f"{path}: rater: not a text")
    if not isinstance(entries, list):
        problems.append(f"{path}: ratings: missing or not a list")
        entries = []
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            problems.append(f"{path}: ratings[{i}]: not an object with item, output, rating")
            continue
        unknown = sorted(set(e) - {"item", "output", "rating", "comment"})
        if unknown:
            problems.append(f"{path}: ratings[{i}]: unknown keys {', '.join(unknown)}")
        comment = e.get("comment") or ""
        out.append(_Entry(f"{path}: ratings[{i}]", e.get("item"), e.get("output"), e.get("rating"), str(comment)))
    if problems:
        raise UsageError("\n".join(problems))
    return RatingsFile(path, str(sheet), (rater or "").strip() or None, tuple(out))


def _read_csv(path: Path, text: str) -> RatingsFile:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []  # (the line the row starts on, its fields): fields may span lines
    start = 1
    for row in reader:
        rows.append((start, row))
        start = reader.line_num + 1
    if not rows or tuple(rows[0][1]) != CSV_COLUMNS:
        raise UsageError(f"{path}:1: expected the header {','.join(CSV_COLUMNS)} (the CSV that fteval rate wrote)")
    sheets = {r[0] for _, r in rows[1:] if r}
    if len(sheets) != 1:
        raise UsageError(f"{path}: expected one sheet id in column 'sheet', found {len(sheets)}")
    entries = []
    for line, row in rows[1:]:
        if not row or len(row) != len(CSV_COLUMNS):
            if row:
                raise UsageError(f"{path}:{line}: expected {len(CSV_COLUMNS)} columns, found {len(row)}")
            continue
        fields = dict(zip(CSV_COLUMNS, row, strict=True))
        if not fields["rating"].strip():
            continue  # not rated
        entries.append(_Entry(f"{path}:{line}", fields["item"], fields["output"], fields["rating"], fields["comment"]))
    return RatingsFile(path, sheets.pop(), None, tuple(entries))


def read_ratings_file(path: Path) -> RatingsFile:
    """Read a ratings file: ``.csv`` as the CSV ``fteval rate --csv`` writes, anything else as the page's JSON.

    Raises:
        UsageError: the file cannot be read or is not a ratings file.
    """
    try:
        text = decode_utf8(read_regular(path, MAX_RATINGS_BYTES))  # a device or pipe is refused before reading
    except TextFileError as exc:
        raise UsageError(f"{path}: cannot read the ratings file: {exc.message}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return _read_csv(path, text) if path.suffix.lower() == ".csv" else _read_json(path, text)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def to_ratings(file: RatingsFile, sheet: RatingSheet, rater: str) -> list[Rating]:
    """The file's entries as ratings of the sheet's (hidden) runs and examples.

    Raises:
        UsageError: every entry that names no output of the sheet, rates off the scale or twice.
    """
    problems, ratings, seen = [], [], set()
    for e in file.entries:
        item, output, value = _integer(e.item), _integer(e.output), _integer(e.rating)
        slot = sheet.slot(item, output) if item is not None and output is not None else None
        if slot is None:
            problems.append(f"{e.where}: item {e.item!r} output {e.output!r} is not on sheet {sheet.id}")
            continue
        if value is None or not sheet.scale_min <= value <= sheet.scale_max:
            problems.append(
                f"{e.where}: rating {e.rating!r} is not an integer from {sheet.scale_min} to {sheet.scale_max}"
            )
            continue
        if (item, output) in seen:
            problems.append(f"{e.where}: item {item} output {output} is rated twice")
            continue
        seen.add((item, output))
        idx, run_id = slot
        ratings.append(Rating(sheet.id, rater, run_id, idx, float(value), e.comment or None))
    if problems:
        raise UsageError(f"{len(problems)} problem(s), nothing imported:\n" + "\n".join(problems))
    return ratings
