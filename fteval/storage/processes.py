"""Whether the process that wrote a row (a run, a lease) still runs: pid, host and the pid's start time.

A pid alone is not enough: once a process ends, the system can give its pid to a new, unrelated
process, and a dead run would read 'running' forever. Where the system tells a process's start time
(Linux: ``/proc/PID/stat``), it is stored with the pid and compared, so a recycled pid reads dead.
"""

from __future__ import annotations

import os
import socket

__all__ = ["HOST", "alive", "start_ticks"]

HOST = socket.gethostname()


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; None where the system does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # field 2 (the command name) may hold spaces and parentheses: count fields after its last ')'
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line: starttime
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int | None = None) -> bool:
    """Whether process ``pid`` on this host exists and, when ``started`` is known, is the one that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if started is None:
        return True
    now = start_ticks(pid)
    return now is None or now == started
