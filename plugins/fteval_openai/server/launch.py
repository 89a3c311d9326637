"""A real ``fteval serve`` subprocess on a free 127.0.0.1 port: the test double for tests, benchmarks and plugin authors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["Served", "free_port"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``fteval serve`` in a subprocess; ``url`` is its API root. Use as a context manager."""

    def __init__(self, state_dir: Path, *args: str, key: str | None = None) -> None:
        self.state_dir, self.args, self.key = state_dir, args, key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        env = {**os.environ}
        extra: list[str] = []
        if self.key is not None:
            env["FTEVAL_SERVE_KEY"] = self.key
            extra = ["--api-key-env", "FTEVAL_SERVE_KEY"]
        self.log = (self.state_dir.parent / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fteval",
                "serve",
                "--port",
                str(self.port),
                "--state-dir",
                str(self.state_dir),
                *extra,
                *self.args,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fteval serve exited: {self.log_text()}")
            try:
                self.stats()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("fteval serve did not start in 60 s")

    def stats(self) -> dict[str, Any]:
        """The server's counters (chat completions served, faults injected, jobs, files)."""
        stats: dict[str, Any] = self.get("/fteval/stats")
        return stats

    def get(self, path: str) -> Any:
        """GET a path (``/v1/...`` or ``/fteval/...``) as JSON."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if self.key is not None:
            request.add_header("Authorization", f"Bearer {self.key}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log_text(self) -> str:
        """What the server printed."""
        self.log.flush()
        return (self.state_dir.parent / f"serve-{self.port}.log").read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
