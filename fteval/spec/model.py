"""Pydantic models of the spec: the single source of truth for keys, types and help text."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fteval.plugin import GenerationSettings
from fteval.spec.pipespec import Pipeline

__all__ = ["Spec", "Source", "HFSource", "Splits", "PromptSpec", "PluginRef", "Target", "Limits"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HFSource(_Strict):
    """A Hugging Face hub dataset, loaded with the optional ``datasets`` library."""

    path: str = Field(description="Dataset id on the hub, e.g. GEM/viggo.")
    name: str | None = Field(None, description="Dataset configuration name.")
    split: str = Field("train", description="Split to load, e.g. test or train[:500].")
    revision: str | None = Field(None, description="Git revision of the dataset repository.")


class Source(_Strict):
    """Where the rows of one split come from, and how to select them."""

    path: str | None = Field(None, description="CSV, JSON (list of objects) or JSONL file, relative to the spec.")
    hf: HFSource | None = Field(None, description="A hub dataset instead of a local file.")
    from_: Literal["train"] | None = Field(
        None,
        alias="from",
        description=(
            "Carve this split (valid or eval) out of the train split's rows instead of a file: "
            "`{from: train, fraction: 0.1, seed: 0}`. The rows are disjoint from train and stable "
            "(they depend only on the train rows, the fraction and the seed)."
        ),
    )
    fraction: float | None = Field(
        None, gt=0, lt=1, description="With `from: train`: the share of the train rows this split takes."
    )
    format: Literal["auto", "csv", "json", "jsonl"] = Field("auto", description="File format; auto uses the suffix.")
    limit: int | None = Field(None, ge=1, description="Keep only the first N rows (after shuffling).")
    shuffle: bool = Field(False, description="Shuffle rows before applying the limit.")
    seed: int = Field(0, description="Seed of the shuffle.")
    columns: dict[str, str] = Field(default_factory=dict, description="Rename columns: {new_name: column_in_file}.")
    on_bad_row: Literal["error", "skip"] = Field(
        "error",
        description=(
            "A bad row (wrong number of CSV cells, a JSON line that is not an object, a null value, "
            "invalid Unicode): stop with its file, line and row (error), or drop it and count it (skip)."
        ),
    )

    @model_validator(mode="after")
    def _one_origin(self) -> Source:
        if sum(x is not None for x in (self.path, self.hf, self.from_)) != 1:
            raise ValueError("give exactly one of 'path', 'hf' or 'from'")
        if (self.from_ is None) != (self.fraction is None):
            raise ValueError("'from: train' and 'fraction' go together")
        return self


class Splits(_Strict):
    """The dataset splits: eval is required; train is needed by targets that train."""

    train: Source | None = Field(None, description="Training rows.")
    valid: Source | None = Field(None, description="Held-out rows for eval loss / early stopping.")
    eval: Source = Field(description="Rows the targets are evaluated on.")

    @model_validator(mode="after")
    def _carved_from_a_train_split(self) -> Splits:
        if self.train is not None and self.train.from_ is not None:
            raise ValueError("the train split cannot be carved from itself; give it a path or hf")
        carved = [s for s in (self.valid, self.eval) if s is not None and s.from_ is not None]
        if carved and self.train is None:
            raise ValueError("'from: train' needs a dataset.train split")
        if sum(s.fraction or 0 for s in carved) >= 1:
            raise ValueError("the carved fractions take every train row; leave some for training")
        return self


class PromptSpec(_Strict):
    """Jinja templates; every dataset column is a variable."""

    system: str | None = Field(None, description="System message template.")
    user: str = Field(description="User message template.")
    target: str = Field(description="Gold answer template (the training completion).")
    rejected: str | None = Field(
        None,
        description=(
            "Rejected answer template for preference training (method: dpo): with it, each train and valid"
            " row is a pair, target preferred over rejected. An empty rejected answer, or one equal to the"
            " target, is an error naming the row."
        ),
    )


class PluginRef(BaseModel):
    """A plugin by name plus its options: ``viggo`` or ``{name: sql, dialect: sqlite}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(description="Registered plugin name.")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def options(self) -> dict[str, Any]:
        """The plugin's own options (everything but ``name``)."""
        return dict(self.model_extra or {})


class Target(_Strict):
    """A model to train (or take as is) and evaluate."""

    trainer: str = Field(description="Trainer plugin name, e.g. hf, openai, lookup.")
    generator: str | None = Field(None, description="Generator plugin; defaults to the trainer's own.")
    evaluator_only: bool = Field(False, description="Skip training and evaluate the base model as it is.")
    model: dict[str, Any] = Field(default_factory=dict, description="Model section, validated by the trainer plugin.")
    train: dict[str, Any] = Field(
        default_factory=dict, description="Training section, validated by the trainer plugin."
    )
    cost: dict[str, Any] = Field(default_factory=dict, description="Prices, validated by the trainer plugin.")
    generation: dict[str, Any] = Field(default_factory=dict, description="Overrides of the spec's generation settings.")
    pipeline: Pipeline | None = Field(
        None, description="Prompt steps (few-shot, chain of thought, self-consistency, self-correction) run per row."
    )
    after: str | None = Field(
        None,
        description=(
            "Another target whose trained model this one starts from (e.g. SFT, then DPO): that target's"
            " job runs first and both are recorded; its model's fingerprint is part of this job's identity."
        ),
    )
    rejected_from: str | None = Field(
        None,
        description=(
            "Build preference pairs from this target's own wrong outputs on the train (and valid) split:"
            " the gold answer is preferred, the output rejected; rows it answers right (exact_match) are"
            " left out. Replaces prompt.rejected for this target."
        ),
    )

    def plugin_section(self) -> dict[str, Any]:
        """The part of the target the trainer plugin validates."""
        return {"model": self.model, "train": self.train, "cost": self.cost}


class Limits(_Strict):
    """Cost caps the engine applies before any parser or metric sees a text."""

    max_output_chars: int = Field(
        20_000,
        ge=1,
        description="Longest output (or gold target) parsed and scored; a longer one is a failure with"
        " the reason and is stored truncated.",
    )


class Spec(_Strict):
    """A whole fteval spec (after ``extends`` is resolved)."""

    fteval: Literal[1] = Field(description="Spec format version; must be 1.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Short name used in run ids and reports.")
    description: str | None = Field(None, description="What the spec evaluates.")
    seed: int = Field(0, description="Seed for shuffles, training and sampling.")
    dataset: Splits = Field(description="Where the rows come from.")
    prompt: PromptSpec = Field(description="Prompt templates.")
    parser: PluginRef = Field(description="Output parser plugin.")
    metrics: list[PluginRef] | None = Field(None, description="Metric plugins; default: the parser's own set.")
    generation: GenerationSettings = Field(default_factory=GenerationSettings, description="Decoding settings.")
    limits: Limits = Field(default_factory=Limits, description="Cost caps on what parsers and metrics process.")
    targets: dict[str, Target] = Field(
        default_factory=dict, description="Models to train and evaluate, by name (a base spec may have none)."
    )
