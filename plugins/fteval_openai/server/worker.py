"""The background worker: each fine-tuning job validates its file, then trains through the ``hf`` trainer."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fteval.plugin import Example, Prompt
from fteval_openai.server.options import ServeOptions
from fteval_openai.server.state import State

__all__ = ["Worker", "examples_from_jsonl"]

ACTIVE = ("validating_files", "queued", "running")


class Cancelled(Exception):
    """The job was cancelled while training."""


def _jsonl_records(content: bytes) -> list[Any]:
    """One decoded record per non-blank line; a line that is not JSON becomes the text of its error."""
    records: list[Any] = []
    for line in content.decode("utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                records.append(f"invalid JSON: {exc}")
    return records


def preference_examples_from_jsonl(content: bytes) -> tuple[list[Any], list[tuple[int, str]]]:
    """DPO lines -> examples (preferred as target, non-preferred as rejected), plus format errors by row."""
    from fteval_openai.preference import preference_errors, preference_examples

    records = _jsonl_records(content)
    errors = preference_errors(records)
    return ([], errors) if errors else (preference_examples(records), [])


def examples_from_jsonl(content: bytes) -> tuple[list[Example], list[tuple[int, str]]]:
    """Chat fine-tuning lines -> examples (system, last user, last assistant), plus format errors."""
    from fteval_openai.datacheck import format_errors

    records = _jsonl_records(content)
    errors = format_errors(records)
    if errors:
        return [], errors
    examples = []
    for i, record in enumerate(records):
        by_role: dict[str, str] = {m["role"]: m["content"] for m in record["messages"]}
        examples.append(Example(i, {}, Prompt(by_role.get("system"), by_role.get("user", "")), by_role["assistant"]))
    return examples, []


class _Bar:
    def __init__(self, ctx: _JobContext) -> None:
        self.ctx = ctx

    def advance(self, n: int = 1, **fields: Any) -> None:
        self.ctx.check()


class _JobContext:
    """The ``TrainContext`` a server job gives the hf trainer: losses become job events."""

    def __init__(
        self, state: State, job_id: str, train: list[Example], valid: list[Example], workdir: Path, seed: int
    ) -> None:
        self.state, self.job_id = state, job_id
        self.target, self.workdir, self.seed = "serve", workdir, seed
        self.train: Sequence[Example] = train
        self.valid: Sequence[Example] = valid
        self.external_id: str | None = None
        self.init: Any = None  # a server job trains from its base model, never on top of another job
        self.stats: dict[str, Any] = {}
        self.last: tuple[int, float] | None = None  # the last logged (step, training loss)

    def check(self) -> None:
        if self.state.status(self.job_id) == "cancelled":
            raise Cancelled

    def log(self, step: int, **values: float) -> None:
        self.check()
        if "loss" in values:
            self.last = (step, values["loss"])
            self.state.event(
                self.job_id,
                f"Step {step}: training loss={values['loss']:.4f}",
                data={"step": step, "train_loss": values["loss"]},
            )

    def set_external_id(self, external_id: str) -> None:
        self.external_id = external_id

    def record(self, **stats: Any) -> None:
        self.stats.update(stats)

    @contextlib.contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[_Bar]:
        yield _Bar(self)


def _checkpoints(job_id: str, model: str, ctx: _JobContext) -> list[dict[str, Any]]:
    """The job's checkpoint objects: its final model, at the last step it logged (oldest first)."""
    step, loss = ctx.last if ctx.last is not None else (0, None)
    return [
        {
            "object": "fine_tuning.job.checkpoint",
            "id": f"ftckpt-{job_id.removeprefix('ftjob-')[:16]}-{step}",
            "created_at": int(time.time()),
            "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{step}",
            "step_number": step,
            "metrics": {"step": step, **({"train_loss": loss} if loss is not None else {})},
            "fine_tuning_job_id": job_id,
        }
    ]


class Worker:
    """One thread that runs queued jobs in order; jobs left active by a restart are run again."""

    def __init__(self, state: State, options: ServeOptions) -> None:
        self.state, self.options = state, options
        self.queue: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="fteval-serve-worker", daemon=True)
        for job_id, job in sorted(state.jobs.items(), key=lambda kv: kv[1]["created_at"]):
            if job["status"] in ACTIVE:
                self.queue.put(job_id)

    def start(self) -> None:
        """Start the worker thread."""
        self.thread.start()

    def submit(self, job_id: str) -> None:
        """Queue a new job."""
        self.queue.put(job_id)

    def _loop(self) -> None:
        while True:
            job_id = self.queue.get()
            try:
                self._run(job_id)
            except Cancelled:
                self.state.event(job_id, "Job cancelled")
            except Exception as exc:  # a failed job must not stop the worker
                self.state.update(
                    job_id,
                    status="failed",
                    finished_at=int(time.time()),
                    error={"code": "training_failed", "message": f"{type(exc).__name__}: {exc}", "param": None},
                )
                self.state.event(job_id, f"Job failed: {exc}", level="error")

    def _split(self, job_id: str, file_id: str | None, param: str, dpo: bool = False) -> list[Example]:
        if not file_id:
            return []
        if dpo:
            examples, errors = preference_examples_from_jsonl(self.state.content(file_id))
        else:
            examples, errors = examples_from_jsonl(self.state.content(file_id))
        if errors:
            row, reason = errors[0]
            raise ValueError(f"{param} {file_id} line {row + 1}: {reason} ({len(errors)} error(s))")
        return examples

    def _run(self, job_id: str) -> None:
        job = self.state.jobs[job_id]
        if job["status"] == "cancelled":
            return
        self.state.event(job_id, f"Validating training file: {job['training_file']}")
        dpo = (job.get("method") or {}).get("type") == "dpo"
        train = self._split(job_id, job["training_file"], "training_file", dpo)
        valid = self._split(job_id, job.get("validation_file"), "validation_file", dpo)
        self.state.update(job_id, status="queued")
        self.state.event(job_id, "Files validated, moving job to queued state")
        if self.state.status(job_id) == "cancelled":
            return
        self.state.update(job_id, status="running")
        self.state.event(job_id, "Fine-tuning job started")
        handle, ctx, epochs = self._train(job, train, valid)
        from fteval_openai.datacheck import training_record
        from fteval_openai.tokens import count_messages

        tokens = sum(count_messages(training_record(e)["messages"]) for e in train) * epochs
        if dpo:  # each pair's rejected answer is trained on too
            tokens += (
                sum(count_messages(training_record(replace(e, target=e.rejected or ""))["messages"]) for e in train)
                * epochs
            )
        name = f"ft:{job['model']}:{job.get('suffix') or 'fteval'}:{job_id.removeprefix('ftjob-')[:8]}"
        self.state.update(
            job_id,
            status="succeeded",
            fine_tuned_model=name,
            trained_tokens=tokens,
            finished_at=int(time.time()),
            _handle=handle,
            _checkpoints=_checkpoints(job_id, name, ctx),
        )
        self.state.event(job_id, f"New fine-tuned model created: {name}")
        self.state.event(job_id, "The job has successfully completed")

    def _train(
        self, job: dict[str, Any], train: list[Example], valid: list[Example]
    ) -> tuple[dict[str, Any], _JobContext, int]:
        from fteval_hf.config import HFConfig
        from fteval_hf.trainer import HFTrainer

        o, hyper = self.options, job.get("hyperparameters") or {}
        epochs: int = hyper["n_epochs"] if isinstance(hyper.get("n_epochs"), int) else o.train_epochs
        batch: int = hyper["batch_size"] if isinstance(hyper.get("batch_size"), int) else o.train_batch_size
        lr_mult = hyper.get("learning_rate_multiplier")
        lr = o.train_lr * (lr_mult if isinstance(lr_mult, int | float) else 1.0)
        schedule: dict[str, Any] = {"max_steps": o.train_max_steps} if o.train_max_steps else {"epochs": epochs}
        dpo = (job.get("method") or {}).get("type") == "dpo"
        beta = hyper.get("beta")
        # a preference job trains a LoRA adapter by DPO on the scratch base (the reference model)
        method: dict[str, Any] = (
            {"method": "dpo", "beta": beta if isinstance(beta, int | float) else 0.1} if dpo else {}
        )
        config = HFConfig.model_validate(
            {
                "model": {"init": "scratch", "preset": o.preset, "vocab_size": o.vocab_size},
                "train": {
                    "method": "full",
                    **method,
                    "lr": lr,
                    "batch_size": batch,
                    "warmup_steps": 0,
                    "eval_every": None,
                    **schedule,
                },
            }
        )
        workdir = self.state.root / "work" / job["id"]
        workdir.mkdir(parents=True, exist_ok=True)
        ctx = _JobContext(self.state, job["id"], train, valid, workdir, int(job.get("seed") or 0))
        handle = HFTrainer(config).fit(ctx)
        data: dict[str, Any] = {
            "trainer": handle.trainer,
            "fingerprint": handle.fingerprint,
            "location": handle.location,
            "meta": dict(handle.meta),
            "config": config.model_dump(mode="json"),
        }
        return data, ctx, epochs
