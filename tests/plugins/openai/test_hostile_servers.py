"""An ``openai`` target pointed at servers that misbehave ends in seconds with one clear line, never a
hang, a traceback or a memory blow-up; nothing bad is cached and the same command resumes the run.

Real misbehaving HTTP servers on 127.0.0.1 (``hostile_server.py``); the CLI runs in a subprocess
whose peak memory is measured by a one-child parent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fteval_testutil import FTEVAL
from hostile_server import HostileServer
from openai_helpers import write_spec

from fteval.storage.store import Store

# Runs the command, then prints its peak RSS in KiB (the only child of this parent).
_PEAK = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"


def _spec(tmp_path: Path, url: str, **model: object) -> Path:
    spec = write_spec(tmp_path / "spec.yaml", url, eval_rows=4)
    data = json.loads(spec.read_text())
    data["targets"] = {"zero": data["targets"]["zero"]}
    # the release is pinned, so no identity probe is sent: every chat request is a row's
    settings = {"request_timeout_s": 3, "max_retries": 1, "max_concurrency": 1, "revision": "test", **model}
    data["targets"]["zero"]["model"].update(settings)
    data["targets"]["zero"]["generation"] = {"batch_size": 1}  # one prompt per call: rows are stored one by one
    spec.write_text(json.dumps(data))
    return spec


def _eval(spec: Path, store: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``fteval eval`` of the spec; returns the process, its wall time and its peak RSS in MiB."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *FTEVAL, "--store", str(store), "eval", str(spec), "--target", "zero"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    return out, time.monotonic() - started, peak_kib // 1024


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("malformed", "the answer is not JSON"),
        ("html", "the answer is an HTML page"),
        ("empty", "the answer has no choices (choices: [])"),
        ("trickle", "no complete answer within request_timeout_s=3 s"),
        ("endless", "went over"),
        ("huge", "went over"),
    ],
)
def test_a_misbehaving_server_ends_the_run_with_one_clear_line(
    tmp_path: Path, api_key: str, mode: str, problem: str
) -> None:
    import os

    store = tmp_path / "runs.db"
    with HostileServer(mode) as server:
        out, wall, peak_mib = _eval(_spec(tmp_path, server.url), store, dict(os.environ))
        sent = server.sent
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    error = next((ln for ln in lines if problem in ln), None)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert error is not None, out.stderr
    assert f"127.0.0.1:{server.server_address[1]}" in error and "model gpt-4o-mini" in error
    assert wall < 40, f"{mode} took {wall:.1f} s"  # the trickle: two tries of 3 s, plus start-up
    assert peak_mib < 400, f"{mode}: peak {peak_mib} MiB"
    if mode == "huge":
        assert sent < 64 * 2**20, f"the client read {sent:,} bytes of a 300 MB answer"
    run = Store(store).list_runs()[0]
    assert run.status == "interrupted" and Store(store).examples(run.id) == []
    assert Store(store).cached_responses([]) == {}
    assert Store(store).db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


def test_the_same_command_resumes_after_a_bad_answer(tmp_path: Path, api_key: str) -> None:
    import os

    store = tmp_path / "runs.db"
    with HostileServer("ok-then-html", good=2) as server:
        spec = _spec(tmp_path, server.url)
        first, _, _ = _eval(spec, store, dict(os.environ))
        assert first.returncode != 0 and "HTML page" in first.stderr
        run = Store(store).list_runs()[0]
        assert [e.idx for e in Store(store).examples(run.id)] == [0, 1]
        server.mode = "ok"
        again, _, _ = _eval(spec, store, dict(os.environ))
        assert again.returncode == 0, again.stderr
        assert server.chat_requests == 5  # 2 good + 1 bad + the 2 rows still missing; none asked twice
    (run,) = Store(store).list_runs()
    assert run.status == "complete" and len(Store(store).examples(run.id)) == 4


def test_a_huge_answer_to_a_lifecycle_call_is_cut_too(tmp_path: Path, api_key: str) -> None:
    import os

    with HostileServer("ok") as server:
        server.models_mode = "huge"  # the zero-shot target's model lookup (the official sync client)
        out, wall, peak_mib = _eval(_spec(tmp_path, server.url), tmp_path / "runs.db", dict(os.environ))
        sent = server.sent
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "went over" in out.stderr and "identifying gpt-4o-mini" in out.stderr
    assert wall < 40 and peak_mib < 400 and sent < 64 * 2**20, (wall, peak_mib, sent)


def test_headers_trickling_on_a_lifecycle_call_end_at_the_deadline(tmp_path: Path, api_key: str) -> None:
    import os

    with HostileServer("ok") as server:
        server.models_mode = "trickle"
        out, wall, _ = _eval(_spec(tmp_path, server.url, request_timeout_s=1), tmp_path / "runs.db", dict(os.environ))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "identifying gpt-4o-mini" in out.stderr and "Timeout" in out.stderr, out.stderr
    # 6 tries (the sync client's 5 retries) of 1 s each, plus its backoff between them; never the 10 min
    # the headers would take.
    assert wall < 60, wall
