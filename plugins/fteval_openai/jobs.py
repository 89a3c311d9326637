"""The fine-tuning job lifecycle: upload, wait for processing, create or re-attach, poll with events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fteval.errors import FtevalError
from fteval.plugin import TrainContext
from fteval_openai.config import OpenAIConfig

__all__ = ["TERMINAL", "checked_seed", "create_job", "poll_job", "upload"]

TERMINAL = ("succeeded", "failed", "cancelled")
FILE_TIMEOUT_S = 600.0
MAX_SEED = 2**31 - 1


def upload(client: Any, path: Path) -> str:
    """Upload a JSONL file for fine-tuning and wait until the service has processed it; returns its id.

    Raises:
        FtevalError: the service rejected the file.
    """
    with path.open("rb") as fh:
        file = client.files.create(file=(path.name, fh), purpose="fine-tune")
    deadline, delay = time.monotonic() + FILE_TIMEOUT_S, 0.2
    while getattr(file, "status", "processed") not in ("processed", "error") and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
        file = client.files.retrieve(file.id)
    if getattr(file, "status", "processed") != "processed":
        raise FtevalError(
            f"uploaded file {path.name} was not processed: {getattr(file, 'status_details', None) or file.status}"
        )
    return str(file.id)


def checked_seed(config: OpenAIConfig, seed: int) -> int:
    """The job's seed (``train.seed``, else the spec's), in the API's range.

    Raises:
        FtevalError: the spec's seed is outside 0..2147483647 (``train.seed`` is validated by its config).
    """
    job_seed = config.train.seed if config.train.seed is not None else seed
    if not 0 <= job_seed <= MAX_SEED:
        raise FtevalError(
            f"the job seed must be 0 to {MAX_SEED} (the API's range), got the spec's seed {job_seed}: set train.seed"
        )
    return job_seed


def create_job(client: Any, config: OpenAIConfig, training_file: str, validation_file: str | None, seed: int) -> Any:
    """Create the job with the spec's hyperparameters (unset ones stay on the service's auto)."""
    t = config.train
    hyper = {
        k: v
        for k, v in {
            "n_epochs": t.epochs,
            "batch_size": t.batch_size,
            "learning_rate_multiplier": t.learning_rate_multiplier,
        }.items()
        if v is not None
    }
    job_seed = checked_seed(config, seed)
    kwargs: dict[str, Any] = {"model": config.model.name, "training_file": training_file, "seed": job_seed}
    # `method` replaces the deprecated top-level `hyperparameters`; DPO's beta goes with the others.
    if t.method == "dpo":
        dpo = hyper | ({"beta": t.beta} if t.beta is not None else {})
        kwargs["method"] = {"type": "dpo", "dpo": {"hyperparameters": dpo} if dpo else {}}
    else:
        supervised: dict[str, Any] = {"hyperparameters": hyper} if hyper else {}
        kwargs["method"] = {"type": "supervised", "supervised": supervised}
    if t.suffix:
        kwargs["suffix"] = t.suffix
    if validation_file:
        kwargs["validation_file"] = validation_file
    return client.fine_tuning.jobs.create(**kwargs)


def _new_events(client: Any, job_id: str, seen: set[str]) -> list[Any]:
    """Events not shown yet, oldest first (the API lists newest first)."""
    page = client.fine_tuning.jobs.list_events(job_id, limit=100)
    fresh = [e for e in page.data if e.id not in seen]
    seen.update(e.id for e in fresh)
    return sorted(fresh, key=lambda e: (e.created_at, e.id))


def poll_job(client: Any, config: OpenAIConfig, job_id: str, ctx: TrainContext) -> Any:
    """Poll until the job ends, streaming its events into the progress display and loss curve."""
    seen: set[str] = set()
    delay = config.train.poll_interval_s
    with ctx.progress(None, f"fine-tuning job {job_id}") as bar:
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            for event in _new_events(client, job_id, seen):
                data = getattr(event, "data", None) or {}
                step = data.get("step") if isinstance(data, dict) else None
                if isinstance(step, int) and "train_loss" in data:
                    ctx.log(step, loss=float(data["train_loss"]))
                bar.advance(0, status=job.status, event=str(event.message)[:80])
            if job.status in TERMINAL:
                return job
            time.sleep(delay)
            delay = min(delay * 1.5, config.train.poll_max_s)
