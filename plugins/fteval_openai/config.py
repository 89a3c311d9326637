"""The openai target's config: the spec's ``model``, ``train`` and ``cost`` sections (no heavy imports)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from fteval.plugin import PluginConfig

__all__ = ["CostOverrides", "ModelSettings", "OpenAIConfig", "TrainSettings"]


class ModelSettings(PluginConfig):
    """Which model, where, and how to reach it. The API key itself is never part of a spec."""

    name: str = Field(
        description="Base model id, e.g. gpt-4o-mini-2024-07-18 (or a served model name); `id` is accepted too."
    )

    @model_validator(mode="before")
    @classmethod
    def _id_is_the_name(cls, data: Any) -> Any:
        """``id`` (as in the hf model section, and what ``--model`` sets) names the model and wins over ``name``."""
        if isinstance(data, dict) and "id" in data:
            data = {k: v for k, v in data.items() if k != "id"} | {"name": data["id"]}
        return data

    revision: str | None = Field(
        None,
        description=(
            "The release this name serves, as you name it (e.g. v3 or a weights hash); part of the model's identity."
            " Pinned, no probe prompts are asked to tell releases apart."
        ),
    )
    base_url: str | None = Field(
        None,
        description="API root, e.g. http://127.0.0.1:8000/v1 for `fteval serve` or a vLLM server; default api.openai.com.",
    )
    api_key_env: str | None = Field(
        None,
        description=(
            "Environment variable that holds the API key. Default: OPENAI_API_KEY for api.openai.com;"
            " another host gets no key unless the spec names one here or in api_key_file."
        ),
    )
    api_key_file: str | None = Field(
        None, description="File holding the API key on one line (used when api_key_env is not named)."
    )
    token_limit: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        "auto",
        description="Request field that carries max_new_tokens; auto: max_completion_tokens on api.openai.com"
        " and for reasoning models (o-series, gpt-5), max_tokens on other servers.",
    )
    max_concurrency: int = Field(8, ge=1, le=512, description="Chat completions in flight at once.")
    request_timeout_s: float = Field(
        60.0, gt=0, description="Deadline of one HTTP request: connecting, the headers and the whole answer."
    )
    max_retries: int = Field(8, ge=0, description="Retries of one completion on 429/5xx/timeouts before failing.")
    backoff_s: float = Field(
        0.5, gt=0, description="First retry delay; doubles each retry (with jitter), capped at 30 s."
    )


class TrainSettings(PluginConfig):
    """The fine-tuning job: hyperparameters, token budget and polling."""

    method: Literal["supervised", "dpo"] = Field(
        "supervised",
        description=(
            "supervised: chat examples; dpo: preference pairs (prompt.rejected or the target's rejected_from),"
            " sent as method: {type: dpo}."
        ),
    )
    beta: float | None = Field(None, gt=0, description="dpo: the beta hyperparameter; default: the service's (auto).")

    epochs: int | None = Field(None, ge=1, le=50, description="n_epochs; default: the service's choice (auto).")
    batch_size: int | None = Field(None, ge=1, le=256, description="batch_size (1-256); default: auto.")
    learning_rate_multiplier: float | None = Field(None, gt=0, description="learning_rate_multiplier; default: auto.")
    suffix: str | None = Field(
        None, max_length=64, description="Up to 64 characters added to the fine-tuned model name."
    )
    seed: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Job seed (0 to 2147483647, as the API takes); default: the spec's seed."
    )
    validation: bool = Field(True, description="Upload dataset.valid as the job's validation file.")
    max_train_tokens: int | None = Field(
        None, ge=1, description="Cap on billed tokens (tokens x epochs); examples are dropped (seeded) until it fits."
    )
    poll_interval_s: float = Field(2.0, gt=0, description="First delay between job polls; grows to poll_max_s.")
    poll_max_s: float = Field(30.0, gt=0, description="Longest delay between job polls.")

    @model_validator(mode="after")
    def _beta_is_dpo(self) -> TrainSettings:
        if self.beta is not None and self.method != "dpo":
            raise ValueError("beta is a DPO hyperparameter: set method: dpo")
        return self


class CostOverrides(PluginConfig):
    """Prices in USD per 1K tokens; unset ones come from ``fteval_openai.prices`` (a model it lacks: unknown)."""

    training_per_1k: float | None = Field(None, ge=0, description="Training price per 1K billed tokens.")
    input_per_1k: float | None = Field(None, ge=0, description="Prompt-token price per 1K.")
    output_per_1k: float | None = Field(None, ge=0, description="Completion-token price per 1K.")
    date: str | None = Field(None, description="When these prices were read (shown with every cost).")
    source: str | None = Field(
        None, description="Where these prices come from, e.g. a pricing page or contract (shown with every cost)."
    )


class OpenAIConfig(PluginConfig):
    """A target fine-tuned and served through the OpenAI API (or a compatible endpoint)."""

    model: ModelSettings = Field(description="Base model and endpoint.")
    train: TrainSettings = Field(default_factory=TrainSettings, description="Fine-tuning job settings.")
    cost: CostOverrides = Field(default_factory=CostOverrides, description="Price overrides.")
