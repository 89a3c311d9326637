"""The ``openai`` trainer: check the data, upload it, run (or re-attach to) a fine-tuning job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fteval.errors import FtevalError
from fteval.plugin import Credential, Estimate, ModelHandle, PlanInput, TokenCounter, TrainContext, Trainer
from fteval_openai.config import OpenAIConfig

if TYPE_CHECKING:
    from fteval_openai.prices import Rates

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


class OpenAITrainer(Trainer[OpenAIConfig]):
    """Fine-tunes through the OpenAI API; ``evaluator_only`` targets evaluate the base model as is."""

    Config = OpenAIConfig
    default_generator: ClassVar[str] = "openai"
    model_format: ClassVar[str] = "openai-model"
    libraries: ClassVar[tuple[str, ...]] = ("openai", "tiktoken")

    def _prepare(self, ctx: TrainContext) -> tuple[Path, Path | None, dict[str, float | int | str]]:
        """Check both splits and apply the token budget; returns the files to upload and the estimate."""
        from fteval_openai.datacheck import check_records, fit_budget, training_record
        from fteval_openai.prices import context_limit

        t, name = self.config.train, self.config.model.name
        price = self._rates()
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
            records, split="train", context=context_limit(name), epochs=t.epochs, training_per_1k=price.training or 0.0
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
            "price_date": price.date or "unknown",
        }
        estimated = price.training_cost(kept_tokens * report.epochs)
        # An unknown training price leaves the cost out (unknown), never $0.
        if estimated is not None:
            estimate["estimated_cost_usd"] = round(estimated, 6)
        ctx.record(**estimate)
        return train, valid, estimate

    def fit(self, ctx: TrainContext) -> ModelHandle:
        """Run the job to the end (re-attaching to ``ctx.external_id`` if it is still usable)."""
        from fteval_openai.client import api_errors, sync_client
        from fteval_openai.jobs import checked_seed, create_job, poll_job, upload

        start = time.perf_counter()
        model = self.config.model
        checked_seed(self.config, ctx.seed)  # before anything is uploaded
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
            cost = self._rates().training_cost(int(trained))
            if cost is not None:
                stats["cost_usd"] = round(cost, 6)
        if job.status != "succeeded" or not job.fine_tuned_model:
            error = getattr(job, "error", None)
            message = getattr(error, "message", None) or job.status
            stats["error"] = str(message)
            ctx.record(**stats)
            raise FtevalError(f"fine-tuning job {job.id} ended {job.status}: {message}")
        stats["fine_tuned_model"] = job.fine_tuned_model
        ctx.record(**stats)
        return self._handle(job.fine_tuned_model, {"job_id": job.id, "price_date": estimate["price_date"]})

    def _rates(self) -> Rates:
        """The base model's prices with the spec's overrides (the training price is the base model's)."""
        from fteval_openai.generator import target_rates

        return target_rates(self.config)

    def _handle(self, model_id: str, meta: dict[str, Any]) -> ModelHandle:
        from fteval_openai.client import endpoint_host
        from fteval_openai.identity import finetuned_fingerprint

        return ModelHandle(
            trainer="openai",
            fingerprint=finetuned_fingerprint(model_id),
            location=model_id,
            meta={**meta, "endpoint": endpoint_host(self.config.model)},
        )

    def _reported(self, answers: bool) -> Any:
        """What the endpoint reports about the model, and (``answers``) how it answers the probes, asked now."""
        from fteval_openai.client import api_errors, sync_client
        from fteval_openai.identity import reported

        model = self.config.model
        where = f"{model.name} at {model.base_url or 'the OpenAI API'}"
        with api_errors(model, f"identifying {where} (after up to {model.max_retries} retries)"):
            return reported(sync_client(model, max_retries=model.max_retries), model, answers=answers)

    def model_identity(self) -> str | None:
        """Name, full base URL, pinned ``revision``, and the ``/v1/models`` root and stable snapshot date."""
        from fteval_openai.identity import stable_identity

        if not hasattr(self, "_identity"):
            self._identity = stable_identity(self.config.model, self._reported(answers=False))
        return self._identity

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        """The base model as is (zero-shot), identified by what the endpoint reports and, failing that, how it answers.

        Asked at every invocation (the engine does not reuse an evaluator-only handle), so a model
        swapped behind the same name and URL gets a new fingerprint, hence a new run and no cached answers.
        """
        from fteval_openai.client import endpoint_host
        from fteval_openai.identity import served_fingerprint

        model = self.config.model
        seen = self._reported(answers=True)
        fingerprint = served_fingerprint(model, seen)
        ctx.record(model_identity=fingerprint, price_date=self._rates().date or "unknown")
        return ModelHandle(
            trainer="openai",
            fingerprint=fingerprint,
            location=model.name,
            meta={"endpoint": endpoint_host(model), "system_fingerprints": list(seen.system_fingerprints)},
        )

    def credentials(self) -> list[Credential]:
        """The key this target sends and its host: OPENAI_API_KEY to api.openai.com, elsewhere only a named key."""
        from fteval_openai.client import credential

        return [credential(self.config.model)]

    def token_counter(self) -> TokenCounter | None:
        """Tokens as the service bills them (tiktoken); training examples as the chat lines a job uploads."""
        from fteval_openai.estimate import token_counter

        return token_counter()

    def estimate(self, work: PlanInput) -> Estimate:
        """Epochs, billed training tokens after ``max_train_tokens``, and the training cost (``fteval plan``)."""
        from fteval_openai.estimate import train_estimate

        return train_estimate(self.config, work)

    def cancel(self, external_id: str) -> str:
        """Cancel a running job (``fteval cancel``); returns its new status."""
        from fteval_openai.client import api_errors, sync_client

        with api_errors(self.config.model, f"cancelling {external_id}"):
            return str(sync_client(self.config.model).fine_tuning.jobs.cancel(external_id).status)
