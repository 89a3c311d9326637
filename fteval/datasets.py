"""Loading dataset rows from CSV/JSON/JSONL files or the Hugging Face hub; column checks; sampling."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

from fteval.errors import DatasetError
from fteval.spec import Source

__all__ = ["load_rows", "header_columns", "file_format", "file_digest"]

Row = dict[str, Any]


def file_format(source: Source, path: Path) -> str:
    """The format of a file source: explicit, or from the suffix."""
    if source.format != "auto":
        return source.format
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in {"csv", "json", "jsonl"}:
        raise DatasetError(f"{path}: cannot tell the format from the suffix; set format: csv|json|jsonl")
    return suffix


def _read_file(path: Path, fmt: str) -> list[Row]:
    try:
        if fmt == "csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                return list(csv.DictReader(fh))
        if fmt == "jsonl":
            with path.open(encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
        else:
            rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: not valid {fmt}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DatasetError(f"{path}: expected a list of objects")
    return rows


def _read_hf(source: Source) -> list[Row]:
    assert source.hf is not None
    try:
        import datasets  # noqa: PLC0415 - optional extra, imported only when used
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
    return [dict(r) for r in ds]


def _rename(rows: list[Row], columns: dict[str, str], where: str) -> list[Row]:
    if not columns:
        return rows
    if rows:
        missing = [old for old in columns.values() if old not in rows[0]]
        if missing:
            raise DatasetError(f"{where}: columns {missing} not found; have {sorted(rows[0])}")
    out = []
    for i, row in enumerate(rows):
        missing = [old for old in columns.values() if old not in row]
        if missing:
            raise DatasetError(f"{where}: row {i + 1} lacks columns {missing}")
        new = dict(row)
        for new_name, old in columns.items():
            new[new_name] = row[old]
        out.append(new)
    return out


def load_rows(source: Source) -> list[Row]:
    """Read a split: load, rename columns, shuffle with its seed, apply its limit.

    Raises:
        DatasetError: the file is missing or malformed, or the hub dataset cannot be loaded.
    """
    if source.hf is not None:
        rows, where = _read_hf(source), source.hf.path
    else:
        path = Path(source.path or "")
        rows, where = _read_file(path, file_format(source, path)), str(path)
    rows = _rename(rows, source.columns, where)
    if source.shuffle:
        random.Random(source.seed).shuffle(rows)
    return rows[: source.limit] if source.limit else rows


def header_columns(source: Source) -> set[str] | None:
    """Column names of a file source, reading as little as possible; None when unknown (hub)."""
    if source.path is None:
        return None
    path = Path(source.path)
    fmt = file_format(source, path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        if fmt == "csv":
            names = set(next(csv.reader(fh), []))
        elif fmt == "jsonl":
            first = next((line for line in fh if line.strip()), "{}")
            names = set(json.loads(first))
        else:
            rows = json.load(fh)
            names = set(rows[0]) if rows else set()
    return names | set(source.columns)


def file_digest(path: str | Path) -> str:
    """sha256 of a data file, for provenance and run identity."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
