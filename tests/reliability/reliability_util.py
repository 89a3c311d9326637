"""Helpers of the reliability suite: a small real spec over real data files, the CLI under resource limits."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

from fteval_testutil import fteval_cli

MEMORY_LIMIT = 2 << 30  # address space of a CLI run in these tests: far below what the hostile inputs ask for


def limited(memory: int = MEMORY_LIMIT) -> None:
    """preexec_fn: cap the child's address space, so a run that tries to use gigabytes fails fast."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def write_spec(
    tmp_path: Path,
    *,
    eval_text: str | bytes = "question,answer\nIs a cat a mammal?,yes\nIs a trout a mammal?,no\n",
    eval_name: str = "eval.csv",
    user: str = "Q: {{ question }}\\nA:",
    target: str = "{{ answer }}",
    parser: str = '{name: choice, labels: ["yes", "no"]}',
    eval_extra: str = "",
    name: str = "spec.yaml",
) -> Path:
    """A lookup-trained spec whose eval split is ``eval_text``; the train split is the same file."""
    data = tmp_path / eval_name
    data.write_bytes(eval_text if isinstance(eval_text, bytes) else eval_text.encode())
    spec = tmp_path / name
    source = f"{{path: {eval_name}{eval_extra}}}"
    spec.write_text(
        "fteval: 1\n"
        "name: rel\n"
        f"dataset:\n  train: {source}\n  eval: {source}\n"
        f'prompt:\n  user: "{user}"\n  target: "{target}"\n'
        f"parser: {parser}\n"
        "targets:\n  lookup: {trainer: lookup}\n"
    )
    return spec


def run_cli(*args: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, memory-capped, with a store in ``tmp_path``."""
    return fteval_cli(*args, store=tmp_path / "runs.db", timeout=timeout, preexec_fn=limited)


def assert_clean_failure(out: subprocess.CompletedProcess, code: int, *parts: str) -> None:
    """Exit ``code``, every part in stderr, and no traceback."""
    assert out.returncode == code, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    for part in parts:
        assert part in out.stderr, (part, out.stderr[-2000:])
