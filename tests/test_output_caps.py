"""Cost caps: huge outputs finish in bounded time and memory, scored as failures with the reason, stored truncated.

Without the caps, four 1 MB SQL outputs under ``normalized_match`` ran past 300 s on this machine,
and the issue measured 257 s and 4.98 GB for 6 MB outputs.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, FTEVAL, ROOT, SPECS, fteval_run

from fteval.running.output_caps import CHARS_PER_TOKEN

MEMORY_LIMIT = 1 << 30  # address space of the whole CLI process; a capped run needs well under half
TIME_LIMIT_S = 90


def _spec(tmp_path: Path, pad_to_chars: int, generation: str = "{}", limits: str = "") -> Path:
    spec = tmp_path / "huge.yaml"
    spec.write_text(
        f"""fteval: 1
name: huge
dataset:
  train: {{path: {SPECS / "data/sql/train.json"}}}
  eval: {{path: {SPECS / "data/sql/val.json"}, limit: 4}}
prompt: {{system: "{{{{ context }}}}", user: "{{{{ question }}}}", target: "{{{{ answer }}}}"}}
parser: sql
metrics: [char_exact, normalized_match, valid_sql_rate]
generation: {{batch_size: 4}}
{limits}
targets:
  huge:
    trainer: delayed_lookup
    model: {{pad_to_chars: {pad_to_chars}}}
    generation: {generation}
"""
    )
    return spec


def _bounded_run(spec: Path, store: Path) -> tuple[subprocess.CompletedProcess, float]:
    """``fteval run`` in a subprocess limited to ``MEMORY_LIMIT`` of address space and ``TIME_LIMIT_S``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(EXTERNAL_PLUGIN), os.environ.get("PYTHONPATH")])),
    }

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    start = time.monotonic()
    done = subprocess.run(
        [*FTEVAL, "--store", str(store), "run", str(spec)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
        preexec_fn=limit,
        check=False,
    )
    return done, time.monotonic() - start


def _stored(store: Path) -> tuple[list[tuple], list[tuple], int]:
    with sqlite3.connect(store) as con:
        examples = con.execute(
            "SELECT parse_ok, parse_error, length(output), output FROM examples ORDER BY idx"
        ).fetchall()
        scores = con.execute("SELECT metric, value, detail FROM scores").fetchall()
        (cached,) = con.execute("SELECT COUNT(*) FROM responses").fetchone()
    return examples, scores, cached


@pytest.mark.parametrize("size", [1_000_000, 6_000_000])
def test_outputs_over_the_limit_fail_with_the_reason_in_bounded_time_and_memory(tmp_path: Path, size: int) -> None:
    # max_new_tokens high enough that the generation bound lets the output through to the output limit.
    spec = _spec(tmp_path, size, generation=f"{{max_new_tokens: {size}}}")
    done, took = _bounded_run(spec, tmp_path / "runs.db")
    assert done.returncode == 0, done.stderr[-2000:]
    assert took < TIME_LIMIT_S
    examples, scores, _ = _stored(tmp_path / "runs.db")
    reason = f"output is {size:,} characters, over the 20,000 limit"
    assert len(examples) == 4
    for parse_ok, error, length, output in examples:
        assert not parse_ok and error.startswith(reason) and "stored truncated to the first 20,000" in error
        assert length == 20_000 and output.startswith("SELECT")
    assert len(scores) == 12 and all(v == 0.0 and d.startswith(reason) for _, v, d in scores)


def test_a_generation_longer_than_max_new_tokens_allows_is_cut_and_not_cached(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 6_000_000)  # the default max_new_tokens: 128
    done, _ = _bounded_run(spec, tmp_path / "runs.db")
    assert done.returncode == 0, done.stderr[-2000:]
    examples, scores, cached = _stored(tmp_path / "runs.db")
    bound = 128 * CHARS_PER_TOKEN
    for parse_ok, error, length, _ in examples:
        assert not parse_ok and error.startswith("generator returned 6,000,000 characters for max_new_tokens=128")
        assert f"cut to {bound:,}" in error and length == bound
    assert all(v == 0.0 for _, v, _ in scores)
    assert cached == 0  # a cut text is not what the model said: it is never answered from the cache


def test_the_limit_is_configurable_and_part_of_the_run_identity(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    tight, _ = _bounded_run(_spec(tmp_path, 0, limits="limits: {max_output_chars: 10}"), store)
    loose, _ = _bounded_run(_spec(tmp_path, 0), store)
    assert tight.returncode == loose.returncode == 0, tight.stderr + loose.stderr
    with sqlite3.connect(store) as con:
        runs = con.execute("SELECT id FROM runs ORDER BY started_at").fetchall()
        per_run = [con.execute("SELECT parse_error FROM examples WHERE run_id = ?", r).fetchall() for r in runs]
    assert len(runs) == 2  # a different limit is a different run, not a reuse of the first
    assert all(e.startswith("output is") and "over the 10 limit" in e for (e,) in per_run[0])
    assert all(e is None for (e,) in per_run[1])  # within the default limit the same outputs parse


def test_a_limit_below_one_is_a_spec_error(tmp_path: Path) -> None:
    checked = fteval_run(
        "validate",
        str(_spec(tmp_path, 0, limits="limits: {max_output_chars: 0}")),
        store=tmp_path / "r.db",
        extra_path=EXTERNAL_PLUGIN,
    )
    assert checked.returncode == 2 and "limits.max_output_chars" in checked.stderr
