"""The whole OpenAI workflow over real HTTP: ``fteval serve`` on 127.0.0.1 and the official client.

Jobs train a tiny scratch model for a few steps (``--train-max-steps``) so each test takes seconds
of training; nothing is patched.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
from pathlib import Path

from fteval_openai.server.launch import Served
from fteval_testutil import FTEVAL, fteval_cli, wait_until
from openai_helpers import KEY, KEY_ENV, VIGGO, write_spec

from fteval.spec.loader import load_spec
from fteval.storage.store import Store

QUICK = ("--train-max-steps", "4")


def _job(store: Path, spec: Path, target: str):
    """The target's job, keyed as the engine keys it (with the served model's identity: the server must be up)."""
    from fteval.running.engine import Engine

    opened = Store(store)
    return opened.job(Engine(load_spec(spec), opened, store.parent).job_key(target))


def _assert_key_absent(key: str, *places: Path | str) -> None:
    """The key appears in no file under the given paths and in none of the given texts."""
    for place in places:
        if isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            for file in files:
                assert key.encode() not in file.read_bytes(), f"API key found in {file}"
        else:
            assert key not in place


def test_run_fine_tunes_then_evaluates_and_a_rerun_makes_no_requests(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "home" / "runs.db"
    with Served(tmp_path / "state", *QUICK, key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url)
        out = fteval_cli("run", str(spec), "--target", "ft", store=store, timeout=600)
        assert out.returncode == 0, out.stderr + server.log_text()
        jobs = server.get("/v1/fine_tuning/jobs")["data"]
        assert len(jobs) == 1 and jobs[0]["status"] == "succeeded"
        assert jobs[0]["fine_tuned_model"].startswith("ft:gpt-4o-mini:e2e:")
        assert jobs[0]["hyperparameters"]["n_epochs"] == 1
        job = _job(store, spec, "ft")
        assert job is not None and job.external_id == jobs[0]["id"] and job.status == "done"
        assert job.handle is not None and job.handle.fingerprint == f"openai:{jobs[0]['fine_tuned_model']}"
        assert job.stats["fine_tuned_model"] == jobs[0]["fine_tuned_model"] and job.stats["status"] == "succeeded"
        assert job.stats["train_rows"] == 24 and job.stats["trained_tokens"] == jobs[0]["trained_tokens"]
        assert server.stats()["served"]["chat_completions"] == 10
        run = Store(store).list_runs()[0]
        examples = Store(store).examples(run.id)
        assert run.status == "complete" and len(examples) == 10
        assert all(e.prompt_tokens and e.cost_usd is not None and e.latency_s for e in examples)

        again = fteval_cli("run", str(spec), "--target", "ft", "--rerun", store=store, timeout=300)
        assert again.returncode == 0, again.stderr
        assert "model calls this invocation: 0" in again.stdout
        assert (
            server.stats()["served"]["chat_completions"] == 10 and len(server.get("/v1/fine_tuning/jobs")["data"]) == 1
        )
    _assert_key_absent(api_key, store.parent, out.stdout, out.stderr, again.stdout, again.stderr)


def test_zero_shot_target_evaluates_the_base_model_as_is(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url, eval_rows=5)
        out = fteval_cli("run", str(spec), "--target", "zero", store=store, timeout=300)
        assert out.returncode == 0, out.stderr
        job = _job(store, spec, "zero")
        # the server reports a stable snapshot date, so one probe (for a system fingerprint) identifies the model
        url = server.url.rstrip("/")
        assert job.handle.fingerprint == f"openai:gpt-4o-mini@{url};created=1700000000;system_fingerprint=fteval-serve"
        assert server.get("/fteval/stats")["jobs"] == 0 and server.stats()["served"]["chat_completions"] == 5 + 1


def test_killed_train_reattaches_to_the_same_job(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", "--train-max-steps", "10", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url)
        env = {**os.environ, "COLUMNS": "200"}
        first = subprocess.Popen(
            [*FTEVAL, "--store", str(store), "train", str(spec), "--target", "ft"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: server.get("/v1/fine_tuning/jobs")["data"], 120, interval=0.1, what="a job on the server")
        wait_until(lambda: _job(store, spec, "ft").external_id, 60, interval=0.1, what="the job id in the store")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        (remote,) = server.get("/v1/fine_tuning/jobs")["data"]
        assert remote["status"] != "succeeded", "the job finished before the kill: the test proves nothing"
        assert _job(store, spec, "ft").external_id == remote["id"]

        out = fteval_cli("train", str(spec), "--target", "ft", store=store, timeout=600)
        assert out.returncode == 0, out.stderr
        jobs = server.get("/v1/fine_tuning/jobs")["data"]
        assert [j["id"] for j in jobs] == [remote["id"]] and jobs[0]["status"] == "succeeded"
        assert server.stats()["files"] == 1  # the rerun uploaded nothing
        assert _job(store, spec, "ft").handle.location == jobs[0]["fine_tuned_model"]


def test_malformed_training_data_is_rejected_before_upload(tmp_path: Path, api_key: str) -> None:
    with (VIGGO / "train.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:8]
    rows[3]["mr"] = ""  # row 3: empty meaning representation -> empty assistant message
    data = tmp_path / "train.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with Served(tmp_path / "state", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url, train_path=data)
        out = fteval_cli("train", str(spec), "--target", "ft", store=tmp_path / "runs.db", timeout=300)
        assert out.returncode != 0
        assert "train row 3: message 1 (assistant) has missing or empty content" in out.stderr
        assert "Traceback" not in out.stderr
        assert server.stats()["files"] == 0 and server.stats()["jobs"] == 0


def test_a_wrong_key_fails_clearly_and_is_never_repeated(tmp_path: Path, monkeypatch) -> None:
    wrong = "sk-wrong-key-0a9b8c7d6e5f4a3b2c1d"
    monkeypatch.setenv(KEY_ENV, wrong)
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", key=KEY) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url)
        out = fteval_cli("--debug", "run", str(spec), "--target", "zero", store=store, timeout=300)
    assert out.returncode != 0
    assert "HTTP 401" in out.stderr and "AuthenticationError" in out.stderr
    _assert_key_absent(wrong, store.parent, out.stdout, out.stderr)
    _assert_key_absent(wrong[3:19], out.stdout, out.stderr)


def test_missing_key_names_the_variable_not_a_value(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    spec = write_spec(tmp_path / "spec.yaml", "http://127.0.0.1:9/v1")
    out = fteval_cli("train", str(spec), "--target", "ft", store=tmp_path / "runs.db", timeout=120)
    assert out.returncode != 0 and f"set the environment variable {KEY_ENV}" in out.stderr


def test_jobs_and_files_survive_a_server_restart_and_cancel_works(tmp_path: Path, api_key: str) -> None:
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", "--train-max-steps", "1000", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url)
        train = subprocess.Popen(
            [*FTEVAL, "--store", str(store), "train", str(spec), "--target", "ft"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: server.get("/v1/fine_tuning/jobs")["data"], 120, interval=0.1, what="a job on the server")
        wait_until(lambda: _job(store, spec, "ft").external_id, 60, interval=0.1, what="the job id in the store")
        cancelled = fteval_cli("cancel", str(spec), "--target", "ft", store=store, timeout=120)
        assert cancelled.returncode == 0, cancelled.stderr
        assert "cancelled" in cancelled.stdout
        _, err = train.communicate(timeout=120)
        assert train.returncode != 0 and "ended cancelled" in err
        (job,) = server.get("/v1/fine_tuning/jobs")["data"]
    with Served(tmp_path / "state", key=api_key) as restarted:
        jobs = restarted.get("/v1/fine_tuning/jobs")["data"]
        assert [(j["id"], j["status"]) for j in jobs] == [(job["id"], "cancelled")]
        assert restarted.stats()["files"] == 1
        messages = [e["message"] for e in restarted.get(f"/v1/fine_tuning/jobs/{job['id']}/events?limit=100")["data"]]
        assert "Job cancellation requested" in messages and messages[-1].startswith("Created fine-tuning job")
