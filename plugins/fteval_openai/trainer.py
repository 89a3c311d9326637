"""The ``openai`` trainer: check the data, upload it, run (or re-attach to) a fine-tuning job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

from fteval.errors import FtevalError
from fteval.plugin import ModelHandle, TrainContext, Trainer
from fteval_openai.config import OpenAIConfig

__all__ = ["OpenAITrainer"]


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as ``fteval export`` does (UTF-8, one compact-ish JSON object per line)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _attach(client: Any, external_id: str | None) -> Any:
    """The earlier attempt's job, or None when there is none or the service no longer knows it."""
    import openai

    if not external_id:
        return None
    try:
        return client.fine_tuning.jobs.retrieve(external_id)
    except openai.NotFoundError:
        return None


class OpenAITrainer(Trainer):
    """Fine-tunes through the OpenAI API; ``evaluator_only`` targets evaluate the base model as is."""

    Config = OpenAIConfig
    default_generator: ClassVar[str] = "openai"
    model_format: ClassVar[str] = "openai-model"
    libraries: ClassVar[tuple[str, ...]] = ("openai", "tiktoken")
    config: OpenAIConfig

    def _prepare(self, ctx: TrainContext) -> tuple[Path, Path | None, dict[str, float | int | str]]:
        """Check both splits and apply the token budget; returns the files to upload and the estimate."""
        from fteval_openai.datacheck import check_records, fit_budget, training_record
        from fteval_openai.prices import context_limit, rates

        t, name = self.config.train, self.config.model.name
        price = rates(name, fine_tuned=False, training=self.config.cost.training_per_1k, date=self.config.cost.date)
        check, record = check_records, training_record
        if t.method == "dpo":
            from fteval_openai.preference import check_preference_records, preference_record

            check, record = check_preference_records, preference_record
            missing = [e.index + 1 for e in [*ctx.train, *ctx.valid] if e.rejected is None]
            if missing:
                raise FtevalError(
                    f"train.method: dpo needs preference pairs, but data rows {missing[:5]} have no rejected answer:"
                    " set prompt.rejected, or rejected_from on the target"
                )
        records = [record(e) for e in ctx.train]
        report = check(
            records, split="train", context=context_limit(name), epochs=t.epochs, training_per_1k=price.training
        )
        keep = fit_budget(report.tokens, report.epochs, t.max_train_tokens, t.seed if t.seed is not None else ctx.seed)
        dropped = len(records) - len(keep)
        kept_tokens = sum(report.tokens[i] for i in keep)
        valid: Path | None = None
        if t.validation and ctx.valid:
            vrecords = [record(e) for e in ctx.valid]
            check(vrecords, split="valid", context=context_limit(name), epochs=1, training_per_1k=0.0)
            valid = _write_jsonl(ctx.workdir / "valid.jsonl", vrecords)
        train = _write_jsonl(ctx.workdir / "train.jsonl", [records[i] for i in keep])
        estimate: dict[str, float | int | str] = {
            "train_rows": len(keep),
            "dropped_rows": dropped,
            "epochs": report.epochs,
            "estimated_billed_tokens": kept_tokens * report.epochs,
            "estimated_cost_usd": round(kept_tokens * report.epochs * price.training / 1000, 6),
            "price_date": price.date,
        }
        ctx.record(**estimate)
        return train, valid, estimate

    def fit(self, ctx: TrainContext) -> ModelHandle:
        """Run the job to the end (re-attaching to ``ctx.external_id`` if it is still usable)."""
        from fteval_openai.client import api_errors, sync_client
        from fteval_openai.jobs import create_job, poll_job, upload

        start = time.perf_counter()
        model = self.config.model
        train_file, valid_file, estimate = self._prepare(ctx)
        client = sync_client(model)
        with api_errors(model, "fine-tuning"):
            job = _attach(client, ctx.external_id)
            if job is None or job.status in ("failed", "cancelled"):
                training = upload(client, train_file)
                validation = upload(client, valid_file) if valid_file else None
                job = create_job(client, self.config, training, validation, ctx.seed)
                ctx.set_external_id(job.id)  # at once: a killed `fteval train` re-attaches to this job
            job = poll_job(client, self.config, job.id, ctx)
        wall = time.perf_counter() - start
        trained = getattr(job, "trained_tokens", None)
        stats: dict[str, float | int | str] = {"wall_s": wall, "status": job.status, "job_id": job.id}
        if trained is not None:
            stats["trained_tokens"] = int(trained)
            stats["cost_usd"] = round(int(trained) * self._training_rate() / 1000, 6)
        if job.status != "succeeded" or not job.fine_tuned_model:
            error = getattr(job, "error", None)
            message = getattr(error, "message", None) or job.status
            stats["error"] = str(message)
            ctx.record(**stats)
            raise FtevalError(f"fine-tuning job {job.id} ended {job.status}: {message}")
        stats["fine_tuned_model"] = job.fine_tuned_model
        ctx.record(**stats)
        return self._handle(job.fine_tuned_model, {"job_id": job.id, "price_date": estimate["price_date"]})

    def _training_rate(self) -> float:
        from fteval_openai.prices import rates

        return rates(self.config.model.name, fine_tuned=False, training=self.config.cost.training_per_1k).training

    def _handle(self, model_id: str, meta: dict[str, Any]) -> ModelHandle:
        from fteval_openai.client import endpoint_host
        from fteval_openai.identity import finetuned_fingerprint

        return ModelHandle(
            trainer="openai",
            fingerprint=finetuned_fingerprint(model_id),
            location=model_id,
            meta={**meta, "endpoint": endpoint_host(self.config.model)},
        )

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        """The base model as is (zero-shot), identified by name, endpoint and reported snapshot."""
        from fteval_openai.client import api_errors, endpoint_host, sync_client
        from fteval_openai.identity import base_fingerprint, model_identity

        model = self.config.model
        from fteval_openai.prices import rates

        with api_errors(model, f"looking up {model.name}"):
            snapshot = model_identity(sync_client(model), model)
        ctx.record(
            model_snapshot=snapshot, price_date=rates(model.name, fine_tuned=False, date=self.config.cost.date).date
        )
        return ModelHandle(
            trainer="openai",
            fingerprint=base_fingerprint(model),
            location=model.name,
            meta={"snapshot": snapshot, "endpoint": endpoint_host(model)},
        )

    def cancel(self, external_id: str) -> str:
        """Cancel a running job (``fteval cancel``); returns its new status."""
        from fteval_openai.client import api_errors, sync_client

        with api_errors(self.config.model, f"cancelling {external_id}"):
            return str(sync_client(self.config.model).fine_tuning.jobs.cancel(external_id).status)
