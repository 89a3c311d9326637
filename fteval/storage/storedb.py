"""The store's SQLite file: opening it (read-only when it cannot be written) and SQLite failures as StoreError.

Every failure names the file and says what to do; none reaches the user as a traceback. Rows are
fetched eagerly so that a damaged page fails inside ``execute`` (where it is translated), not later
while a caller iterates.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fteval.errors import StoreError

__all__ = ["Connection", "Rows", "connect", "store_error"]

BUSY_TIMEOUT_S = 30


class Rows(list):  # type: ignore[type-arg]
    """The rows of one statement, fetched; ``fetchone``/``fetchall`` as on a cursor."""

    def fetchone(self) -> Any:
        """The first row, or None."""
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        """All rows."""
        return list(self)


def store_error(exc: sqlite3.Error, path: Path, read_only_reason: str | None = None) -> StoreError:
    """A StoreError for a SQLite failure on ``path``: what went wrong and what to do about it."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreError(
            f"{path} is not a readable fteval store ({exc}): if it is your store, restore it from a backup;"
            " otherwise move it aside (fteval then starts a new, empty store there) or pass --store with another file"
        )
    if code == sqlite3.SQLITE_READONLY:
        reason = read_only_reason or "the file or its folder is not writable"
        return StoreError(f"cannot write {path}: {reason}. Reading it works (fteval runs, fteval show)")
    if code == sqlite3.SQLITE_FULL:
        return StoreError(
            f"the disk holding {path} is full ({exc}): free some space and run the command again;"
            " work already stored is kept and an interrupted run resumes"
        )
    if code == sqlite3.SQLITE_IOERR:
        return StoreError(
            f"cannot read or write {path} ({exc}): check the disk it is on (full? failing? removed?)"
            " and run the command again"
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            f"cannot open {path} ({exc}): check that it and its folder exist and are accessible, or pass --store"
        )
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"{path} stayed locked by another process for {BUSY_TIMEOUT_S} s ({exc}):"
            " wait for it to finish (or stop it) and run the command again"
        )
    return StoreError(f"store {path}: {type(exc).__name__}: {exc}")


class Connection:
    """A SQLite connection whose failures are StoreErrors naming the file."""

    def __init__(self, raw: sqlite3.Connection, path: Path, read_only_reason: str | None) -> None:
        self.raw, self.path, self.read_only_reason = raw, path, read_only_reason

    @property
    def writable(self) -> bool:
        """Whether writes are allowed (they raise a StoreError saying why otherwise)."""
        return self.read_only_reason is None

    def refuse_writes(self, reason: str) -> None:
        """From now on, refuse writes with ``reason`` (SQLite's ``query_only``)."""
        self.execute("PRAGMA query_only = ON")
        self.read_only_reason = reason

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return store_error(exc, self.path, self.read_only_reason)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement and fetch its rows.

        Raises:
            StoreError: any SQLite failure, translated.
        """
        try:
            return Rows(self.raw.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; on any failure roll back if SQLite has not already, keeping the real error."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            # After SQLITE_FULL/IOERR SQLite may have rolled back itself; a second ROLLBACK would
            # replace the real error with "cannot rollback - no transaction is active".
            if self.raw.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.raw.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def _raw(target: str, uri: bool) -> sqlite3.Connection:
    raw = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=uri, check_same_thread=False)
    raw.row_factory = sqlite3.Row
    return raw


def _read_only(path: Path, reason: str) -> Connection:
    """Open ``path`` read-only; ``immutable`` when its folder is not writable (no -shm/-wal can be made)."""
    query = "mode=ro" if os.access(path.parent, os.W_OK) else "mode=ro&immutable=1"
    con = Connection(_raw(f"file:{quote(str(path.resolve()))}?{query}", uri=True), path, reason)
    con.execute("PRAGMA schema_version")  # reads the header: "not a database" shows here
    return con


def _switch_to_wal(con: Connection) -> None:
    """``PRAGMA journal_mode=WAL``, retried while busy: SQLite can answer SQLITE_BUSY at once (without its
    busy handler) when another process is creating the same new store."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except StoreError as exc:
            code = (getattr(exc.__cause__, "sqlite_errorcode", None) or 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(path: Path) -> Connection:
    """Open (or create) the store file: WAL when writable, read-only when the file or its folder is not.

    Raises:
        StoreError: a folder instead of a file, an unreadable or damaged file, a folder that cannot be made.
    """
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a store file: pass --store {path / 'runs.db'} (or another file)")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {path.parent} ({exc.strerror}): pass --store with a writable place"
            ) from exc
        if not os.access(path.parent, os.W_OK):
            raise StoreError(
                f"no store at {path}, and its folder is not writable to create one: pass --store with a writable place"
            )
    elif not os.access(path, os.R_OK):
        raise StoreError(
            f"cannot read {path} (permission denied): fix its permissions or pass --store with another file"
        )
    if not os.access(path, os.W_OK) and path.exists():
        return _read_only(path, "the file is not writable; make it writable or pass --store with another file")
    if not os.access(path.parent, os.W_OK):
        return _read_only(path, f"its folder {path.parent} is not writable; make it writable or pass --store elsewhere")
    con = Connection(_raw(str(path), uri=False), path, None)
    try:
        _switch_to_wal(con)
    except StoreError as exc:
        con.close()
        code = (getattr(exc.__cause__, "sqlite_errorcode", None) or 0) & 0xFF
        if code != sqlite3.SQLITE_READONLY:  # e.g. a read-only mount that access() did not reveal
            raise
        return _read_only(path, "it is on a read-only file system or not writable; pass --store with another file")
    con.execute("PRAGMA synchronous=NORMAL")
    return con
