"""A streamed hf evaluation killed half way keeps what it saved and resumes with only the rest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from fteval_testutil import FTEVAL, SPECS, stored_examples, wait_until

pytest.importorskip("torch")

ROWS = 400


def _spec(tmp_path: Path, model: Path) -> Path:
    """An evaluator-only hf target over ``ROWS`` ViGGO test rows, 8 rows decoded at a time (slow enough to kill)."""
    spec = tmp_path / "eval.yaml"
    spec.write_text(
        f"""fteval: 1
name: hf-eval-resume
dataset: {{eval: {{path: {SPECS / "data/viggo/test.csv"}, limit: {ROWS}}}}}
prompt: {{system: null, user: "{{{{ ref }}}}", target: "{{{{ mr }}}}"}}
parser: viggo
metrics: [exact_match]
generation: {{max_new_tokens: 48, batch_size: 8}}
targets:
  tiny: {{trainer: hf, evaluator_only: true, model: {{id: {str(model)!r}}}}}
"""
    )
    return spec


def _calls(stdout: str) -> int:
    found = re.search(r"model calls this invocation: (\d+)", stdout)
    assert found, stdout[-2000:]
    return int(found.group(1))


def _outputs(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT output FROM examples ORDER BY idx")]


def test_a_killed_streamed_evaluation_resumes_with_only_the_unsaved_rows(tmp_path: Path, tiny_hub_model: Path) -> None:
    spec, db = _spec(tmp_path, tiny_hub_model), tmp_path / "killed" / "runs.db"
    env = {**os.environ, "COLUMNS": "250"}
    proc = subprocess.Popen(
        [*FTEVAL, "--store", str(db), "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        saved = wait_until(lambda: stored_examples(db), timeout=240, what="the first saved group of outputs")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    saved = stored_examples(db)
    assert 0 < saved < ROWS  # killed in the middle of the stream, after a save

    resumed = subprocess.run(
        [*FTEVAL, "--store", str(db), "run", str(spec)], capture_output=True, text=True, env=env, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _calls(resumed.stdout) == ROWS - saved  # the saved rows were not generated again

    whole = tmp_path / "whole" / "runs.db"
    straight = subprocess.run(
        [*FTEVAL, "--store", str(whole), "run", str(spec)], capture_output=True, text=True, env=env, timeout=600
    )
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert _calls(straight.stdout) == ROWS
    assert _outputs(db) == _outputs(whole)  # greedy: the resumed run's outputs are the uninterrupted run's
