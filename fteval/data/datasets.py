"""Loading dataset rows from CSV/JSON/JSONL files or the Hugging Face hub; column checks; sampling."""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fteval.data.textfile import TextFileError, check_regular, decode_utf8, position, read_capped
from fteval.errors import DatasetError
from fteval.spec.model import Source

__all__ = ["Rows", "file_format", "header_columns", "load_rows"]

Row = dict[str, Any]


def file_format(source: Source, path: Path) -> str:
    """The format of a file source: explicit, or from the suffix."""
    if source.format != "auto":
        return source.format
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in {"csv", "json", "jsonl"}:
        raise DatasetError(f"{path}: cannot tell the format from the suffix; set format: csv|json|jsonl")
    return suffix


class Rows(list[Row]):
    """The rows of a split, plus how many bad rows ``on_bad_row: skip`` dropped (and why, the first few)."""

    def __init__(self, rows: Iterable[Row] = (), skipped: int = 0, skip_reasons: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.skipped, self.skip_reasons = skipped, list(skip_reasons)


class _Bad(Exception):
    """One bad data row: ``line`` is the physical line where it starts, ``row`` its 1-based data-row number."""

    def __init__(self, row: int, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.row, self.line, self.reason = row, line, reason

    def located(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: data row {self.row}: {self.reason}"


# A record is (1-based data row, physical line or None, the row, or the reason it is bad).
_Record = tuple[int, int | None, "Row | str"]


def _csv_records(text: str, path: Path) -> Iterator[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DatasetError(f"{path}: empty file; expected a header line with the column names")
    _check_header(header, path)
    number, start = 0, reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not cells:  # a blank line
            continue
        number += 1
        if len(cells) != len(header):
            yield number, line, f"has {len(cells)} cells; the header has {len(header)}"
        else:
            yield number, line, dict(zip(header, cells, strict=True))


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header):
        if name in seen:
            raise DatasetError(
                f"{path}:1: duplicate column name {name!r} (column {i + 1}); column names must be unique"
            )
        seen.add(name)


def _jsonl_records(text: str, path: Path) -> Iterator[_Record]:
    number = 0
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, line_no, f"not valid JSON: {exc.msg} (column {exc.colno})"
            continue
        yield number, line_no, value if isinstance(value, dict) else f"expected a JSON object, found {_kind(value)}"


def _json_records(text: str, path: Path) -> Iterator[_Record]:
    """Elements of a top-level JSON list, each with the line where it starts."""
    decoder = json.JSONDecoder()
    at = _skip_ws(text, 0)
    if text[at : at + 1] != "[":
        try:
            found = _kind(json.loads(text)) if text.strip() else "an empty file"
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid json: {exc}") from None
        raise DatasetError(f"{path}: expected a JSON list of objects, found {found}; or use format: jsonl")
    at = _skip_ws(text, at + 1)
    number, line, counted = 0, 1, 0
    while text[at : at + 1] != "]":
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid json: {exc}") from None
        number += 1
        line += text.count("\n", counted, at)  # counted from the previous record on: linear in the file
        counted = at
        yield number, line, value if isinstance(value, dict) else f"expected a JSON object, found {_kind(value)}"
        at = _skip_ws(text, end)
        if text[at : at + 1] == ",":
            at = _skip_ws(text, at + 1)
        elif text[at : at + 1] != "]":
            line, col = position(text, at)
            raise DatasetError(f"{path}:{line}: not valid json: expected ',' or ']' at line {line}, column {col}")


def _skip_ws(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _row_problem(row: Row, escapes: bool = True) -> str | None:
    """Why a row's values cannot be used: a missing (null) value, or text that cannot be stored.

    ``escapes``: the format can spell a lone surrogate (JSON's ``\\ud800``); text decoded strictly from
    UTF-8 (CSV) cannot hold one, so its cells are not checked again.
    """
    for key, value in row.items():
        if value is None:
            return f"column {key!r} is null (a missing value)"
        bad = escapes and (_lone_surrogate(key) or _lone_surrogate(value))
        if bad:
            return f"column {key!r} holds a lone surrogate {bad} (not valid Unicode text)"
    return None


def _lone_surrogate(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"U+{ord(value[exc.start]):04X}"
        return None
    if isinstance(value, dict):
        return next(filter(None, (_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, map(_lone_surrogate, value)), None)
    return None


_READERS = {"csv": _csv_records, "jsonl": _jsonl_records, "json": _json_records}
_MAX_REASONS = 5


#: Largest data file read (bytes); checked before reading and while reading (a file may grow).
MAX_DATA_BYTES = 1 << 30
#: Most bytes read to find a file's column names (a csv header line, a jsonl first record).
MAX_HEAD_BYTES = 1 << 20
_EAGER_BYTES = 8192


def _data_file(path: Path) -> None:
    """Refuse up front what is not a bounded regular file (``/dev/zero``, a pipe, a directory, a huge file).

    Raises:
        FileNotFoundError: no such file.
        DatasetError: a directory, a device or pipe, or a file over ``MAX_DATA_BYTES``.
    """
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, not a data file")
    try:
        check_regular(path, MAX_DATA_BYTES)
    except TextFileError as exc:
        raise DatasetError(f"{path}: {exc.message}; point the path at a data file") from None


def _read_data(path: Path) -> bytes:
    """A data file's bytes, refused up front or at the cap when it is not a bounded regular file."""
    _data_file(path)
    try:
        return read_capped(path, MAX_DATA_BYTES)
    except TextFileError as exc:
        raise DatasetError(f"{path}: {exc.message}") from None


def _read_file(path: Path, fmt: str, on_bad_row: str) -> Rows:
    try:
        text = decode_utf8(_read_data(path))
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except TextFileError as exc:
        raise DatasetError(f"{path}:{exc.line}: not valid {fmt}: {exc.message}") from None
    try:
        return _collect(_READERS[fmt](text, path), str(path), on_bad_row, escapes=fmt != "csv")
    except csv.Error as exc:
        raise DatasetError(f"{path}: not valid csv: {exc}") from None


def _collect(records: Iterable[_Record], where: str, on_bad_row: str, *, escapes: bool = True) -> Rows:
    """Keep the good rows; raise on bad ones (``on_bad_row: error``) or count and drop them (``skip``)."""
    rows, bad = Rows(), []
    for number, line, record in records:
        problem = record if isinstance(record, str) else _row_problem(record, escapes)
        if problem is None:
            rows.append(record)  # type: ignore[arg-type]
        else:
            bad.append(_Bad(number, line, problem))
    if bad and on_bad_row == "error":
        shown = "\n".join(b.located(where) for b in bad[:_MAX_REASONS])
        more = f"\n... and {len(bad) - _MAX_REASONS} more" if len(bad) > _MAX_REASONS else ""
        hint = "\n(fix the rows, or set on_bad_row: skip on this dataset split to drop and count them)"
        raise DatasetError(f"{where}: {len(bad)} bad data row(s):\n{shown}{more}{hint}")
    rows.skipped, rows.skip_reasons = len(bad), [b.located(where) for b in bad[:_MAX_REASONS]]
    if not rows:
        skipped = f" ({len(bad)} bad rows skipped)" if bad else ""
        raise DatasetError(f"{where}: no data rows{skipped}; a split needs at least one row")
    return rows


def _read_hf(source: Source) -> Rows:
    assert source.hf is not None
    try:
        import datasets  # type: ignore[import-untyped]
    except ImportError:
        raise DatasetError("hf datasets need the optional extra: pip install 'fteval[datasets]'") from None
    # Fail fast instead of hanging when the hub cannot be reached.
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    hf = source.hf
    try:
        ds = datasets.load_dataset(hf.path, hf.name, split=hf.split, revision=hf.revision)
    except Exception as exc:  # the library raises many types; all mean "could not load"
        raise DatasetError(
            f"could not load hub dataset {hf.path!r} (split {hf.split!r}): {type(exc).__name__}: {exc}. "
            "Offline? Download it once with network access, or point 'path' at a local file."
        ) from None
    return _collect(((i + 1, None, dict(r)) for i, r in enumerate(ds)), hf.path, source.on_bad_row)


def _rename(rows: Rows, columns: dict[str, str], where: str) -> Rows:
    if not columns:
        return rows
    missing = [old for old in columns.values() if old not in rows[0]]
    if missing:
        raise DatasetError(f"{where}: columns {missing} not found; have {sorted(rows[0])}")
    out = Rows(skipped=rows.skipped, skip_reasons=rows.skip_reasons)
    for i, row in enumerate(rows):
        missing = [old for old in columns.values() if old not in row]
        if missing:
            raise DatasetError(f"{where}: row {i + 1} lacks columns {missing}")
        new = dict(row)
        for new_name, old in columns.items():
            new[new_name] = row[old]
        out.append(new)
    return out


def load_rows(source: Source) -> Rows:
    """Read a split: load, check each row, rename columns, shuffle with its seed, apply its limit.

    A bad row (a CSV row with too few or too many cells, a JSON line that is not an object, a null
    value, text with a lone surrogate) is an error naming the file, the physical line and the
    1-based data row; with ``on_bad_row: skip`` it is dropped and counted instead.

    Returns:
        The rows, as a list whose ``skipped`` attribute counts the dropped rows (``skip_reasons``
        describes the first few).

    Raises:
        DatasetError: the file is missing or malformed, has bad rows (``on_bad_row: error``) or no
            rows at all, or the hub dataset cannot be loaded.
    """
    if source.hf is not None:
        rows, where = _read_hf(source), source.hf.path
    else:
        path = Path(source.path or "")
        rows, where = _read_file(path, file_format(source, path), source.on_bad_row), str(path)
    rows = _rename(rows, source.columns, where)
    if source.shuffle:
        random.Random(source.seed).shuffle(rows)
    return Rows(rows[: source.limit], rows.skipped, rows.skip_reasons) if source.limit else rows


def header_columns(source: Source) -> set[str] | None:
    """Column names of a file source, reading as little as possible; None when unknown (hub).

    Raises:
        DatasetError: duplicate column names, or a first record that is not a JSON object.
    """
    if source.path is None:
        return None
    path = Path(source.path)
    fmt = file_format(source, path)
    if fmt == "json":
        try:
            text = decode_utf8(_read_data(path))
        except TextFileError as exc:
            raise DatasetError(f"{path}:{exc.line}: not valid json: {exc.message}") from None
        first = next(_json_records(text, path), None)
        names = _record_columns(first, path)
    else:
        names = _head_columns(path, fmt)
    return names | set(source.columns)


def _head_lines(path: Path, fmt: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of the complete lines among the first ``MAX_HEAD_BYTES`` of a file, decoded one by one."""
    _data_file(path)
    with path.open("rb") as fh:
        head = fh.read(MAX_HEAD_BYTES + 1)
    if len(head) > MAX_HEAD_BYTES:
        cut = head.rfind(b"\n", 0, MAX_HEAD_BYTES)
        if cut < 0:
            raise DatasetError(f"{path}:1: the first line is longer than {MAX_HEAD_BYTES:,} bytes; not a {fmt} file?")
        head = head[: cut + 1]
    # the complete lines of the first 8 KiB are checked at once (as a text-mode read did): a bad byte
    # near the top is reported at validation with its line and column
    try:
        decode_utf8(head[: head.rfind(b"\n", 0, _EAGER_BYTES) + 1])
    except TextFileError as exc:
        raise DatasetError(f"{path}:{exc.line}: not valid {fmt}: {exc.message}") from None
    for number, raw in enumerate(head.splitlines(keepends=True), 1):
        try:
            yield number, decode_utf8(raw) if number == 1 else raw.decode("utf-8")
        except (TextFileError, UnicodeDecodeError):
            raise DatasetError(f"{path}:{number}: not valid {fmt}: not valid UTF-8; save the file as UTF-8") from None


def _head_columns(path: Path, fmt: str) -> set[str]:
    """Column names from the first line (csv) or first record (jsonl) only, reading at most ``MAX_HEAD_BYTES``."""
    lines = _head_lines(path, fmt)
    if fmt == "csv":
        header = next(csv.reader(line for _, line in lines), [])
        _check_header(header, path)
        return set(header)
    first = next(((n, line) for n, line in lines if line.strip()), None)
    if first is None:
        return set()
    return _record_columns(next(_jsonl_records(first[1], path)), path, first[0])


def _record_columns(record: _Record | None, path: Path, line: int | None = None) -> set[str]:
    if record is None:
        return set()
    _, at, value = record
    if isinstance(value, str):
        raise DatasetError(f"{path}:{line or at}: data row 1: {value}")
    return set(value)
