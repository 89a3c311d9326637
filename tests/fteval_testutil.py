"""Shared test helpers: project paths, running the real CLI (in this process or a subprocess), waiting.

The recording TrainContext lives in the public ``fteval.testing``.
"""

from __future__ import annotations

import gc
import importlib
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fteval.storage.records import NewRun
from fteval.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
EXTERNAL_PLUGIN = ROOT / "tests" / "fixtures" / "external_plugin"
SCRIPT_PLUGIN = ROOT / "tests" / "fixtures" / "script_plugin"
FTEVAL = [sys.executable, "-m", "fteval"]


def fteval_cli(
    *args: str,
    store: Path,
    extra_path: Path | None = None,
    timeout: float = 300,
    env_extra: dict[str, str] | None = None,
    **kw,
) -> subprocess.CompletedProcess:
    """Run the real ``fteval`` CLI in a subprocess (``env_extra``: variables added to its environment)."""
    env = {**os.environ, "COLUMNS": "250", **(env_extra or {})}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*FTEVAL, "--store", str(store), *args], capture_output=True, text=True, env=env, timeout=timeout, **kw
    )


@dataclass
class CliResult:
    """What an in-process ``fteval`` call gave: the fields of ``subprocess.CompletedProcess`` the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def fteval_run(
    *args: str,
    store: Path,
    extra_path: Path | None = None,
    env_extra: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> CliResult:
    """Run the ``fteval`` command group in this process through click's ``CliRunner``.

    Use it for every test that does not need a process of its own (signals, kills, import checks, the
    interpreter's own exit): it saves a Python start and the plugin imports per call. Like
    ``fteval_cli``: ``extra_path`` goes first on ``sys.path`` (and plugin discovery is redone),
    ``env_extra`` is added to the environment, ``cwd`` is the working directory; all three, ``sys.argv``
    and any environment variable the command sets are restored afterwards. An exception that escapes
    the command gives exit code 1 and its traceback on stderr, as the interpreter would.
    """
    from click.testing import CliRunner

    from fteval import registry
    from fteval.cli import main

    argv = ["--store", str(store), *args]
    saved_env, saved_path, saved_argv, saved_cwd = dict(os.environ), list(sys.path), sys.argv, os.getcwd()
    if extra_path is not None:
        sys.path.insert(0, str(extra_path))
        importlib.invalidate_caches()
    registry.discover.cache_clear()
    sys.argv = ["fteval", *argv]  # what a run command's "run the same command to resume" message quotes
    try:
        if cwd is not None:
            os.chdir(cwd)
        runner = CliRunner()
        result = runner.invoke(main, argv, env={"COLUMNS": "250", **(env_extra or {})})
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        registry.discover.cache_clear()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    done = CliResult(argv, result.exit_code, result.stdout, stderr)
    del result  # its traceback holds the command's frames: close what they opened (a store), as an exit would
    gc.collect()
    return done


T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60, interval: float = 0.02, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def delayed_spec(tmp_path: Path, rows: int, delay: float) -> Path:
    """A spec whose one target answers ViGGO rows through the external plugin, ``delay`` seconds each."""
    spec = tmp_path / "slow.yaml"
    spec.write_text(
        f"""fteval: 1
name: slow
dataset:
  train: {{path: {SPECS / "data/viggo/train.csv"}}}
  eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: {rows}}}
prompt: {{user: "{{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: text
metrics: [exact_match, char_exact]
generation: {{batch_size: 4}}
targets:
  slow: {{trainer: delayed_lookup, model: {{delay_s: {delay}}}}}
"""
    )
    return spec


def make_run(store: Store, key: str = "k", n_examples: int = 2) -> str:
    """A bare run of spec ``s``, target ``t`` in ``store``, for store-level tests."""
    run_id: str = store.create_run(
        NewRun(
            run_key=key,
            spec_name="s",
            spec_hash="h",
            spec={},
            target="t",
            trainer="lookup",
            generator="lookup",
            model_fingerprint="fp",
            generation={},
            config={},
            versions={},
            seed=0,
            n_examples=n_examples,
        )
    )
    return run_id


def stored_examples(db: Path) -> int:
    """How many examples a store file holds (0 while it is being created), read from another connection."""
    try:
        with sqlite3.connect(db, timeout=5) as con:
            count: int = con.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
            return count
    except sqlite3.OperationalError:
        return 0


class Interrupted(Exception):
    """Raised by a training context from :func:`stopped_at`: a crash in the middle of a training loop."""


def stopped_at(step: int, ctx: Any) -> Any:
    """Make ``ctx`` raise ``Interrupted`` when the loop logs ``step`` (a crash after the checkpoints before it)."""
    log = ctx.log

    def stop(s: int, **values: float) -> None:
        if s == step:
            raise Interrupted
        log(s, **values)

    ctx.log = stop
    return ctx
