"""``POST /v1/fine_tuning/jobs`` as the API validates it: hyperparameters (top level or under
``method.supervised``), suffix, seed and files; and the job object it answers with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fteval_openai.server.errors import ApiError
from fteval_openai.server.state import State

__all__ = ["CreateJob", "FILE_PURPOSES", "job_fields"]

# What `POST /v1/files` accepts as `purpose` (the API's list).
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


class Hyperparameters(BaseModel):
    """Supervised hyperparameters; "auto" leaves the choice to the server."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=50)] = Field("auto", description="Epochs, 1-50.")
    batch_size: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = Field("auto", description="Batch size, 1-256.")
    learning_rate_multiplier: Literal["auto"] | Annotated[float, Field(gt=0)] = Field(
        "auto", description="Learning-rate scale."
    )


class Supervised(BaseModel):
    """``method.supervised``."""

    model_config = ConfigDict(extra="forbid")

    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters, description="Hyperparameters.")


class DpoHyperparameters(Hyperparameters):
    """DPO hyperparameters: the supervised ones and ``beta``, the strength of the preference penalty."""

    beta: Literal["auto"] | Annotated[float, Field(gt=0, le=2)] = Field("auto", description="DPO beta, (0, 2].")


class Dpo(BaseModel):
    """``method.dpo``."""

    model_config = ConfigDict(extra="forbid")

    hyperparameters: DpoHyperparameters = Field(default_factory=DpoHyperparameters, description="Hyperparameters.")


class Method(BaseModel):
    """``method``: supervised fine-tuning and DPO train here (through the hf path)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["supervised", "dpo", "reinforcement"] = Field(description="Fine-tuning method.")
    supervised: Supervised | None = Field(None, description="Supervised settings.")
    dpo: Dpo | None = Field(None, description="DPO settings.")
    reinforcement: dict[str, Any] | None = Field(None, description="RFT settings (refused here).")


class CreateJob(BaseModel):
    """The body of a job creation."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, description="Base model.")
    training_file: str = Field(min_length=1, description="Uploaded training file id.")
    validation_file: str | None = Field(None, description="Uploaded validation file id.")
    hyperparameters: Hyperparameters | None = Field(None, description="Deprecated: use method.")
    method: Method | None = Field(None, description="Fine-tuning method and its hyperparameters.")
    suffix: str | None = Field(None, min_length=1, max_length=64, description="Added to the model name.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Job seed.")
    integrations: list[dict[str, Any]] | None = Field(None, description="Ignored.")
    metadata: dict[str, str] | None = Field(None, description="Kept on the job.")


def job_fields(body: CreateJob, state: State, base_models: tuple[str, ...]) -> dict[str, Any]:
    """The new job's fields, after the checks the API makes.

    Raises:
        ApiError: an unknown model or file, a file of another purpose, a method other than supervised,
            or hyperparameters given both at the top level and under ``method``.
    """
    if body.model not in base_models:
        raise ApiError(400, f"Model {body.model!r} is not available for fine-tuning", "model_not_available", "model")
    for param in ("training_file", "validation_file"):
        file_id = getattr(body, param)
        if file_id is None:
            continue
        file = state.files.get(file_id)
        if file is None:
            raise ApiError(400, f"invalid {param}: {file_id}", "invalid_file", param)
        if file["purpose"] != "fine-tune":
            raise ApiError(
                400,
                f"File {file_id} has purpose {file['purpose']!r}; fine-tuning needs 'fine-tune'",
                "invalid_file",
                param,
            )
    kind = body.method.type if body.method is not None else "supervised"
    if kind not in ("supervised", "dpo"):
        raise ApiError(400, f"method {kind!r} is not supported by fteval serve", "unsupported_method", "method.type")
    given: Hyperparameters | None = None
    if body.method is not None and kind == "supervised" and body.method.supervised is not None:
        given = body.method.supervised.hyperparameters
    elif body.method is not None and kind == "dpo" and body.method.dpo is not None:
        given = body.method.dpo.hyperparameters
    if given is not None and body.hyperparameters is not None:
        raise ApiError(
            400,
            "Give hyperparameters under method, not both there and at the top level",
            "invalid_value",
            "hyperparameters",
        )
    if kind == "dpo" and given is None:  # top-level (deprecated) hyperparameters, with beta on auto
        given = DpoHyperparameters(**(body.hyperparameters.model_dump() if body.hyperparameters else {}))
    hyper = (given or body.hyperparameters or Hyperparameters()).model_dump()
    return {
        "model": body.model,
        "training_file": body.training_file,
        "validation_file": body.validation_file,
        "hyperparameters": hyper,
        "method": {"type": kind, kind: {"hyperparameters": hyper}},
        "seed": body.seed if body.seed is not None else 0,
        "suffix": body.suffix,
        "metadata": body.metadata,
        "integrations": [],
    }
