"""Latency per question is the request's own time; the wait before it (the concurrency gate) is kept apart."""

from __future__ import annotations

import json
from pathlib import Path

from fteval_openai.server.launch import Served
from fteval_testutil import fteval_run
from openai_helpers import write_spec

from fteval.storage.store import Store


def test_queue_wait_is_recorded_apart_from_the_request_latency(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", "--latency-ms", "300", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url, eval_rows=6)
        data = json.loads(spec.read_text())
        data["targets"]["zero"]["model"]["max_concurrency"] = 2
        spec.write_text(json.dumps(data))
        out = fteval_run("eval", str(spec), "--target", "zero", store=store)
        assert out.returncode == 0, out.stderr
    run = Store(store).list_runs()[0]
    examples = Store(store).examples(run.id)
    assert len(examples) == 6 and all(e.latency_s is not None and e.latency_s >= 0.3 for e in examples)
    rows = sorted((e.queue_s, e.latency_s) for e in examples if e.queue_s is not None)
    assert len(rows) == 6
    # Two requests at a time, 300 ms each (the first two also pay the server's warm-up): two start at
    # once, the others wait for a free slot, and that wait is not in their latency.
    assert rows[1][0] < 0.2 and rows[2][0] >= 0.25 and rows[4][0] >= rows[2][0] + 0.25, rows
    assert all(latency < 0.8 for _, latency in rows[2:]), rows
    shown = fteval_run("show", run.id, store=store)
    assert "client queue wait / question (s)" in shown.stdout
