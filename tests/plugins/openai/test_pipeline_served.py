"""The shipped SQL pipelines against ``fteval serve`` on 127.0.0.1: every request is a recorded call, none twice."""

from __future__ import annotations

from pathlib import Path

from fteval_openai.server.launch import Served
from fteval_testutil import SPECS, fteval_run
from openai_helpers import KEY_ENV

from fteval.storage.callstore import load_calls
from fteval.storage.store import Store

TARGETS = ("served-3shot", "served-sc5", "served-din")


def test_served_pipelines_record_every_request_and_a_rerun_sends_none(tmp_path: Path, api_key: str) -> None:
    with Served(tmp_path / "state", key=api_key) as server:
        # a pinned release: no identity probe, so every chat request the server counts is a pipeline call
        model = f"{{model: {{base_url: '{server.url}', api_key_env: {KEY_ENV}, revision: echo}}}}"
        spec = tmp_path / "served.yaml"
        spec.write_text(
            f"extends: {SPECS / 'sql-pipelines.yaml'}\ndataset: {{eval: {{limit: 3}}}}\ntargets:\n"
            + "".join(f"  {t}: {model}\n" for t in TARGETS)
        )
        store = tmp_path / "runs.db"
        args = [a for t in TARGETS for a in ("-t", t)]
        out = fteval_run("run", str(spec), *args, store=store)
        assert out.returncode == 0, out.stderr + server.log_text()
        s = Store(store)
        runs = {r.target: r for r in s.list_runs()}
        calls = {t: load_calls(s, runs[t].id) for t in TARGETS}
        assert [len(calls["served-3shot"]), len(calls["served-sc5"])] == [3, 15]
        din_steps = [c.step for c in calls["served-din"]]
        assert din_steps.count("link") == din_steps.count("generate") == 3
        fresh = sum(not c.cached for cs in calls.values() for c in cs)
        assert server.stats()["served"]["chat_completions"] == fresh
        # sampled calls differ by seed, so each of the five is its own request
        assert len({c.cache_key for c in calls["served-sc5"]}) == 15
        again = fteval_run("run", str(spec), *args, "--rerun", store=store)
        assert again.returncode == 0, again.stderr
        assert server.stats()["served"]["chat_completions"] == fresh
