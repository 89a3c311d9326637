"""Preference (DPO) fine-tuning over real HTTP: the API's job body to ``fteval serve``, and the openai trainer sending it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fteval_openai.server.launch import Served
from fteval_testutil import fteval_cli, wait_until
from openai_helpers import KEY, VIGGO, write_spec

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store

QUICK = ("--train-max-steps", "4")


def _other_function(mr: str, function: str) -> str:
    """``mr`` with its dialogue act replaced by ``function`` (or by inform, if it already is one)."""
    head, args = mr[: mr.index("(")], mr[mr.index("(") :]
    return ("inform" if head == function else function) + args


def _pairs(n: int) -> list[dict]:
    """ViGGO rows as DPO lines: the gold MR preferred, the same MR with another function rejected."""
    with (VIGGO / "train.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [
        {
            "input": {"messages": [{"role": "user", "content": r["ref"]}]},
            "preferred_output": [{"role": "assistant", "content": r["mr"]}],
            "non_preferred_output": [{"role": "assistant", "content": _other_function(r["mr"], "request")}],
        }
        for r in rows
    ]


def _upload(client, records: list) -> str:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    return client.files.create(file=("pairs.jsonl", io.BytesIO(data)), purpose="fine-tune").id


def _wait(client, job_id: str):
    def finished():
        job = client.fine_tuning.jobs.retrieve(job_id)
        return job if job.status in ("succeeded", "failed", "cancelled") else None

    return wait_until(finished, 300, interval=0.2, what=f"job {job_id} to finish")


def test_serve_trains_the_apis_preference_job_body(tmp_path: Path) -> None:
    from openai import BadRequestError, OpenAI

    with Served(tmp_path / "state", *QUICK, key=KEY) as server:
        client = OpenAI(base_url=server.url, api_key=KEY, max_retries=0)
        training = _upload(client, _pairs(16))
        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=training,
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25, "n_epochs": 1}}},
        )
        assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == 0.25
        done = _wait(client, job.id)
        assert done.status == "succeeded", (done.error, server.log_text())
        events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data]
        assert any(m.startswith("Step 4: training loss=") for m in events)
        reply = client.chat.completions.create(
            model=done.fine_tuned_model, messages=[{"role": "user", "content": "Is it fun?"}], max_tokens=4
        )
        assert reply.choices[0].message.content is not None

        with pytest.raises(BadRequestError) as err:  # a method this server cannot train
            client.fine_tuning.jobs.create(
                model="gpt-4o-mini", training_file=training, method={"type": "reinforcement"}
            )
        assert (
            err.value.body["param"] == "method.type"
            and "method 'reinforcement' is not supported" in err.value.body["message"]
        )

        bad = _pairs(3)
        bad[1]["non_preferred_output"] = bad[1]["preferred_output"]
        failed = _wait(
            client,
            client.fine_tuning.jobs.create(
                model="gpt-4o-mini", training_file=_upload(client, bad), method={"type": "dpo"}
            ).id,
        )
        assert failed.status == "failed"
        assert (
            "training_file" in failed.error.message
            and "line 2: the preferred and non-preferred answers are identical" in failed.error.message
        )


def test_the_openai_trainer_sends_a_dpo_job_from_the_spec(tmp_path: Path, api_key: str) -> None:
    train = tmp_path / "train.csv"
    with (VIGGO / "train.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:12]
    with train.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["ref", "mr", "bad"])
        writer.writeheader()
        writer.writerows({"ref": r["ref"], "mr": r["mr"], "bad": _other_function(r["mr"], "confirm")} for r in rows)
    store = tmp_path / "runs.db"
    with Served(tmp_path / "state", *QUICK, key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url, train_rows=12, eval_rows=4, train_path=train)
        data = json.loads(spec.read_text())
        data["prompt"]["rejected"] = "{{ bad }}"
        data["targets"]["ft"]["train"] |= {"method": "dpo", "beta": 0.3}
        spec.write_text(json.dumps(data))
        out = fteval_cli("run", str(spec), "--target", "ft", store=store, timeout=600)
        assert out.returncode == 0, out.stderr + server.log_text()
        (job,) = server.get("/v1/fine_tuning/jobs")["data"]
        assert job["status"] == "succeeded" and job["method"]["type"] == "dpo"
        assert job["method"]["dpo"]["hyperparameters"]["beta"] == 0.3 and job["hyperparameters"]["n_epochs"] == 1
        uploaded = server.get(f"/v1/files/{job['training_file']}")
        assert uploaded["filename"] == "train.jsonl"
        opened = Store(store)  # keyed as the engine keys it (with the served model's identity: the server is up)
        stored = opened.job(Engine(load_spec(spec), opened, store.parent).job_key("ft"))
        assert stored.status == "done" and stored.stats["train_rows"] == 12 and stored.external_id == job["id"]
