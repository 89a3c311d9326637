"""Rating sheets and ratings in the run store (tables of the ``ratings`` migration in ``fteval.storage.migrations``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fteval.errors import UsageError
from fteval.ratings.sheet import RatingSheet, SheetItem
from fteval.storage.store import Store

__all__ = ["Rating", "load_sheet", "sheet_ratings", "save_ratings", "save_sheet", "sheets_of_runs"]


@dataclass(frozen=True)
class Rating:
    """One rater's rating of one output (a run's example)."""

    sheet_id: str
    rater: str
    run_id: str
    idx: int
    rating: float
    comment: str | None


def save_sheet(store: Store, sheet: RatingSheet) -> None:
    """Store a sheet (a sheet with the same id is the same sheet: kept as it is)."""
    items = [[i.number, i.idx, list(i.runs)] for i in sheet.items]
    store.db.execute(
        "INSERT OR IGNORE INTO rating_sheets (id, runs_json, seed, scale_min, scale_max, rubric, items_json, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sheet.id,
            json.dumps(list(sheet.runs)),
            sheet.seed,
            sheet.scale_min,
            sheet.scale_max,
            sheet.rubric,
            json.dumps(items),
            sheet.created_at,
        ),
    )


def _sheet(r: Any) -> RatingSheet:
    """A sheet from its ``rating_sheets`` row."""
    items = tuple(SheetItem(n, idx, tuple(runs)) for n, idx, runs in json.loads(r["items_json"]))
    return RatingSheet(
        id=r["id"],
        runs=tuple(json.loads(r["runs_json"])),
        seed=r["seed"],
        scale_min=r["scale_min"],
        scale_max=r["scale_max"],
        rubric=r["rubric"],
        items=items,
        created_at=r["created_at"],
    )


def load_sheet(store: Store, sheet_id: str) -> RatingSheet:
    """The stored sheet with this id.

    Raises:
        UsageError: no such sheet in this store.
    """
    row = store.db.execute("SELECT * FROM rating_sheets WHERE id = ?", (sheet_id,)).fetchone()
    if row is None:
        raise UsageError(
            f"rating sheet {sheet_id!r} is not in {store.path}: import ratings into the store whose runs were rated"
            " (--store)"
        )
    return _sheet(row)


def sheets_of_runs(store: Store, run_ids: Sequence[str]) -> list[RatingSheet]:
    """Sheets that rate any of these runs and have ratings, oldest first."""
    wanted = set(run_ids)
    if not store.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ratings'").fetchone():
        return []  # a read-only store of an fteval before ratings
    rows = store.db.execute(
        "SELECT * FROM rating_sheets WHERE id IN (SELECT DISTINCT sheet_id FROM ratings) ORDER BY created_at, id"
    )
    return [s for s in map(_sheet, rows) if wanted & set(s.runs)]


def save_ratings(store: Store, sheet_id: str, rater: str, ratings: Sequence[Rating]) -> None:
    """Replace ``rater``'s ratings on a sheet with ``ratings`` (one transaction)."""
    now = time.time()
    with store.db.transaction():
        store.db.execute("DELETE FROM ratings WHERE sheet_id = ? AND rater = ?", (sheet_id, rater))
        store.db.executemany(
            "INSERT INTO ratings (sheet_id, rater, run_id, idx, rating, comment, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(sheet_id, rater, r.run_id, r.idx, r.rating, r.comment, now) for r in ratings],
        )


def sheet_ratings(store: Store, sheet_id: str) -> list[Rating]:
    """Every rating of a sheet, by rater, run and example."""
    rows = store.db.execute(
        "SELECT sheet_id, rater, run_id, idx, rating, comment FROM ratings WHERE sheet_id = ?"
        " ORDER BY rater, run_id, idx",
        (sheet_id,),
    )
    return [Rating(*r) for r in rows]
