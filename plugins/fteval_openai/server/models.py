"""Chat models the server answers: fine-tuned jobs' hf models, and an echo stand-in for base models.

There is no GPT locally, so a base model id answers deterministically with the last user message
(cut to ``max_tokens`` words): enough to exercise the zero-shot path, retries and caching.
"""

from __future__ import annotations

import threading
from typing import Any

from fteval_openai.server.options import ServeOptions
from fteval_openai.server.state import State

__all__ = ["BASE_CREATED", "ModelNotFound", "Models"]

BASE_CREATED = 1_700_000_000  # a fixed "snapshot" time for the echo base models


class ModelNotFound(LookupError):
    """No base model and no succeeded job has this id."""


class Models:
    """Loads fine-tuned models on first use (one lock per model: torch runs one request at a time)."""

    def __init__(self, state: State, options: ServeOptions) -> None:
        self.state, self.options = state, options
        self._loaded: dict[str, tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        """Every model id with its ``created`` time and owner."""
        out = [
            {"id": m, "object": "model", "created": BASE_CREATED, "owned_by": "system"}
            for m in self.options.base_models
        ]
        with self.state.lock:
            for job in self.state.jobs.values():
                if job["status"] == "succeeded" and job.get("fine_tuned_model"):
                    out.append(
                        {
                            "id": job["fine_tuned_model"],
                            "object": "model",
                            "created": job["finished_at"],
                            "owned_by": job["organization_id"],
                        }
                    )
        return out

    def get(self, model_id: str) -> dict[str, Any]:
        """One model's object.

        Raises:
            ModelNotFound: unknown id.
        """
        for model in self.listing():
            if model["id"] == model_id:
                return model
        raise ModelNotFound(model_id)

    def _job_for(self, model_id: str) -> dict[str, Any]:
        with self.state.lock:
            for job in self.state.jobs.values():
                if job.get("fine_tuned_model") == model_id and job["status"] == "succeeded":
                    return job
        raise ModelNotFound(model_id)

    def _load(self, model_id: str) -> tuple[Any, threading.Lock]:
        from fteval_hf.config import HFConfig
        from fteval_hf.generator import HFGenerator

        from fteval.plugin import GenerationSettings, ModelHandle

        with self._lock:
            if model_id not in self._loaded:
                data = self._job_for(model_id)["_handle"]
                config = HFConfig.model_validate(data["config"])
                handle = ModelHandle(data["trainer"], data["fingerprint"], data["location"], data["meta"])
                loaded = HFGenerator().load(handle, config, GenerationSettings())
                self._loaded[model_id] = (loaded, threading.Lock())
            return self._loaded[model_id]

    def complete(
        self,
        model_id: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: tuple[str, ...],
        seed: int,
    ) -> str:
        """The model's reply to ``messages``.

        Raises:
            ModelNotFound: unknown model id.
        """
        system = next((m["content"] for m in messages if m.get("role") == "system"), None)
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if model_id in self.options.base_models:
            return " ".join(str(user).split()[:max_tokens])
        from fteval_hf.generator import HFLoadedModel

        from fteval.plugin import GenerationSettings, Prompt

        base, lock = self._load(model_id)
        settings = GenerationSettings(
            max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
        )
        with lock:
            model = HFLoadedModel(
                base.model,
                base.tokenizer,
                settings,
                prompt_format=base.prompt_format,
                shared_prefix=base.shared_prefix,
                device=base.device,
            )
            return model.generate([Prompt(system, str(user))])[0].text
