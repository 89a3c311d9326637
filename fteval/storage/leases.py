"""Leases in the store: one process at a time trains a job or evaluates a run; the others wait, then reuse its result.

A lease is a row of the ``leases`` table naming its holder (pid@host, the pid's start time and a
random token). The holder renews it from a heartbeat thread; a lease not renewed for ``ttl_s``
seconds has expired, and a holder on this host whose process is gone (or whose pid now names
another process) has let go at once. The processes of one multi-process launch
(torchrun / ``accelerate launch`` ranks) share a lease: they are one training.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fteval.errors import StoreError
from fteval.storage.processes import HOST, alive, start_ticks
from fteval.storage.storedb import Connection, connect

__all__ = ["DEFAULT_TTL_S", "Holder", "hold", "launch_group", "try_acquire"]

DEFAULT_TTL_S = float(os.environ.get("FTEVAL_LEASE_TTL_S", "60"))
POLL_S = 0.5


def launch_group() -> str:
    """Identity of this process's multi-process launch (same for all its ranks), or '' when alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ""
    parts = [os.environ.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT")]
    return "launch:" + ":".join(parts)


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) a lease."""

    pid: int
    host: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    group: str = ""
    started: int | None = None  # the pid's start time (processes.start_ticks), where the system tells it

    @classmethod
    def current(cls) -> Holder:
        """This process, in its launch group if it is one rank of several."""
        pid = os.getpid()
        return cls(pid, HOST, group=launch_group(), started=start_ticks(pid))

    @property
    def label(self) -> str:
        """``pid N@host``, as shown to users."""
        return f"pid {self.pid}@{self.host}"


def _free(row: Any, me: Holder, now: float) -> bool:
    """Whether the lease in ``row`` may be taken by ``me``."""
    if row is None or row["expires_at"] < now or row["token"] == me.token:
        return True
    return row["host"] == me.host and not alive(row["pid"], row["pid_started"])


def try_acquire(db: Connection, name: str, me: Holder, ttl_s: float) -> Holder | None:
    """Take the lease ``name`` if it is free; returns None when ``me`` holds it, else its holder.

    Raises:
        StoreError: the store cannot be written (read-only, newer schema, full disk).
    """
    now = time.time()
    with db.transaction():
        row = db.execute("SELECT * FROM leases WHERE name = ?", (name,)).fetchone()
        if row is not None and me.group and row["grp"] == me.group and row["expires_at"] >= now:
            # Another rank of our launch holds it: share it, and help keep it alive.
            db.execute("UPDATE leases SET expires_at = ? WHERE name = ?", (now + ttl_s, name))
            return None
        if not _free(row, me, now):
            return Holder(row["pid"], row["host"], row["token"], row["grp"], row["pid_started"])
        db.execute(
            "INSERT OR REPLACE INTO leases (name, holder, pid, host, token, grp, expires_at, acquired_at, pid_started)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, me.label, me.pid, me.host, me.token, me.group, now + ttl_s, now, me.started),
        )
    return None


def _heartbeat(path: Path, name: str, me: Holder, ttl_s: float, stop: threading.Event) -> None:
    """Renew the lease every quarter TTL until ``stop``; its own connection (SQLite is per thread)."""
    db: Connection | None = None
    while not stop.wait(ttl_s / 4):
        try:
            db = db or connect(path)
            db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND (token = ? OR (grp != '' AND grp = ?))",
                (time.time() + ttl_s, name, me.token, me.group),
            )
        except StoreError:
            pass  # a busy or full store: try again next beat; the lease lasts ttl_s
    if db is not None:
        db.close()


@contextlib.contextmanager
def hold(
    db: Connection,
    name: str,
    *,
    on_wait: Callable[[Holder], None] | None = None,
    me: Holder | None = None,
    ttl_s: float | None = None,
) -> Iterator[bool]:
    """Hold the lease ``name`` for the block, waiting while another live process holds it.

    Args:
        db: the store's connection.
        name: what the lease guards, e.g. ``job:<key>``.
        on_wait: called once with the holder when this process has to wait.
        me: the holder identity (default: this process).
        ttl_s: seconds a lease outlives its holder's last heartbeat.

    Yields:
        Whether this process waited for another one first.

    Raises:
        StoreError: the store cannot be written.
    """
    me = me or Holder.current()
    ttl_s = ttl_s or DEFAULT_TTL_S
    waited = False
    while (other := try_acquire(db, name, me, ttl_s)) is not None:
        if not waited and on_wait is not None:
            on_wait(other)
        waited = True
        time.sleep(POLL_S)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(db.path, name, me, ttl_s, stop), daemon=True, name=f"lease {name}")
    beat.start()
    try:
        yield waited
    finally:
        stop.set()
        beat.join()
        with contextlib.suppress(StoreError):  # an unreleased lease expires on its own
            db.execute("DELETE FROM leases WHERE name = ? AND token = ?", (name, me.token))
