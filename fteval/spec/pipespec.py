"""Pydantic models of a pipeline target's ``pipeline`` section: shots and prompt steps."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Pipeline", "Shots", "Step"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shots(_Strict):
    """Examples drawn from the train split for each evaluated row, given to step templates as ``shots``.

    A train row whose rendered prompt equals the evaluated row's, or any eval row's, is never drawn.
    """

    k: int = Field(ge=1, le=64, description="How many examples each row gets.")
    select: Literal["fixed", "random", "similar"] = Field(
        "similar",
        description="fixed: the same rows for every question (`indexes`, or the first k allowed);"
        " random: a draw seeded by `seed` and the row's index; similar: the k train rows whose"
        " `query` text is closest by BM25 (the bm25s library; ties go to the earlier train row).",
    )
    seed: int = Field(0, description="Seed of the random draw (select: random).")
    indexes: list[int] | None = Field(
        None, description="Train row indexes (0-based) for select: fixed; default: the first k allowed rows."
    )
    query: str | None = Field(
        None,
        description="Jinja template of the text BM25 compares (select: similar), rendered with a row's columns;"
        " default: the spec's prompt.user.",
    )


class Step(_Strict):
    """One prompt sent to a model; its output is available to later steps as ``steps.<name>``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Step name, used in templates and reports.")
    user: str = Field(
        description="Jinja template of the user message. Variables: the row's columns (not those only the"
        " gold target reads), `prompt` and `system` (the spec's rendered prompt), `shots` (each a train row's"
        " columns plus its rendered `prompt` and `target`) and `steps.<earlier step>` (`output`, `answer`,"
        " `parsed`, `ok`, `error`, `ran`, `checks`, `check_errors`, `answers`)."
    )
    system: str | None = Field(
        None, description="Jinja template of the system message; default: the spec's prompt.system; '' for none."
    )
    target: str | None = Field(
        None, description="Another target of the spec whose model answers this step; default: the pipeline's own."
    )
    generation: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the answering target's generation settings for this step."
    )
    answer_regex: str | None = Field(
        None,
        description="Regex whose first group (or whole match) is the step's answer (e.g. after 'SQL:' in a"
        " chain of thought); default: the whole output. The answer is parsed by the task's parser.",
    )
    samples: int = Field(
        1,
        ge=1,
        le=64,
        description="Self-consistency: this many samples (seeds seed, seed+1, ...; needs temperature > 0);"
        " the answer is the majority of the parsed answers, ties to the earliest sample.",
    )
    checks: list[str] = Field(
        default_factory=list,
        description="Metrics of the spec run on the step's answer without the gold answer (e.g."
        " valid_sql_rate); their values are `steps.<name>.checks.<metric>`.",
    )
    when: str | None = Field(
        None,
        description="Jinja expression: run the step only when it is true (e.g."
        " `steps.generate.checks.valid_sql_rate < 1`); a skipped step leaves the previous answer.",
    )


class Pipeline(_Strict):
    """Prompt steps run per row; the answer of the last step that ran is parsed and scored."""

    shots: Shots | None = Field(None, description="Train examples drawn for each row (few-shot prompting).")
    steps: list[Step] = Field(min_length=1, description="The steps, run in order.")
