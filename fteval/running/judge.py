"""The ``judge`` metric: another target of the spec rates each output with a rubric (a model-graded metric).

The rubric is a sandboxed Jinja template of the input, the gold reference and the output; the
judge's reply is parsed into a rating on a scale (pass/fail is the scale 0-1) with an RE2 pattern.
A reply without a rating is a judge failure: reported in the score's detail and left out of the
aggregate (the method says how many), never a crash and never a silent 0. Judge calls go through
``fteval.running.calls`` (cached, recorded per example, not repeated on resume); the judge target's model
fingerprint and this metric's config (rubric, scale, pattern) are part of the run's identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, field_validator, model_validator

from fteval.errors import PluginError
from fteval.plugin import Aggregate, Metric, PluginConfig, Prompt, Score, ScoreItem, TargetCall, nfc

__all__ = ["DEFAULT_PATTERN", "DEFAULT_RUBRIC", "Judge", "JudgeConfig", "RUBRIC_VARIABLES"]

DEFAULT_RUBRIC = """You are grading the answer of a system.

Task input:
{{ input }}

Reference answer:
{{ reference }}

System answer:
{{ output }}

Rate the system answer from {{ scale_min }} (wrong or unusable) to {{ scale_max }} (correct and complete; it may be \
worded differently from the reference). Reply with "Rating: N" and nothing else."""
DEFAULT_PATTERN = r"(?i)(?:rating|score)\D{0,12}?(\d+)|^\s*(\d+)\b"
RUBRIC_VARIABLES = frozenset({"input", "system", "reference", "output", "row", "scale_min", "scale_max"})


def _compile(pattern: str) -> Any:
    """The pattern compiled with RE2 (linear time).

    Raises:
        ValueError: invalid, or without a group.
    """
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"invalid regular expression (RE2 syntax): {exc}") from None
    if compiled.groups < 1:
        raise ValueError("the pattern needs a group around the rating, e.g. Rating: (\\d+)")
    return compiled


class JudgeConfig(PluginConfig):
    """Options of the ``judge`` metric."""

    target: str = Field(description="The spec target that judges: any generator target (hf, openai, a pipeline).")
    rubric: str = Field(
        DEFAULT_RUBRIC,
        description=(
            "Jinja template (sandboxed) of the judge's prompt; variables: input, system, reference (the gold), "
            "output, row (the dataset row), scale_min, scale_max."
        ),
    )
    system: str | None = Field(None, description="System message of the judge's prompt.")
    scale: tuple[int, int] = Field(
        (1, 5), description="Lowest and highest rating; the score is (rating - low) / (high - low). 0-1: pass/fail."
    )
    pattern: str = Field(
        DEFAULT_PATTERN, description="RE2 pattern; its first group that matched is the rating in the judge's reply."
    )

    @field_validator("rubric")
    @classmethod
    def _template(cls, value: str) -> str:
        from fteval.spec.templates import check_template

        variables, problems = check_template(value)
        if problems:
            raise ValueError("; ".join(problems))
        unknown = sorted(variables - RUBRIC_VARIABLES)
        if unknown:
            raise ValueError(
                f"the rubric reads {', '.join(unknown)}; it can read {', '.join(sorted(RUBRIC_VARIABLES))}"
                " (dataset columns through row, e.g. row.mr)"
            )
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        _compile(value)
        return value

    @model_validator(mode="after")
    def _scale(self) -> JudgeConfig:
        low, high = self.scale
        if high <= low:
            raise ValueError(f"scale: the highest rating ({high}) must be above the lowest ({low})")
        return self


class Judge(Metric[JudgeConfig]):
    """A rating of each output by a judge target, on ``scale``, scored as (rating - low) / (high - low)."""

    Config = JudgeConfig

    def __init__(self, config: JudgeConfig | None = None) -> None:
        super().__init__(config)
        self.settings: JudgeConfig = self.config
        self._call: TargetCall | None = None
        self._pattern = _compile(self.settings.pattern)

    @classmethod
    def calls_target(cls, config: PluginConfig) -> str | None:
        """The judge target."""
        assert isinstance(config, JudgeConfig)
        return config.target

    def bind(self, call: TargetCall) -> None:
        """Keep the engine's call to the judge target."""
        self._call = call

    def prompt(self, item: ScoreItem) -> Prompt:
        """The judge's prompt for one output."""
        from fteval.spec.templates import render

        low, high = self.settings.scale
        variables = {
            "input": item.example.prompt.user,
            "system": item.example.prompt.system or "",
            "reference": item.example.target,
            "output": nfc(item.output).strip(),
            "row": dict(item.example.row),
            "scale_min": low,
            "scale_max": high,
        }
        return Prompt(self.settings.system, render(self.settings.rubric, variables, where="metrics: judge: rubric"))

    def rating(self, reply: str) -> int | None:
        """The rating in a judge's reply, or None when there is none on the scale."""
        match = self._pattern.search(reply)
        if match is None:
            return None
        found = next((g for g in match.groups() if g is not None), None)
        try:
            value = int(found) if found is not None else None
        except ValueError:
            return None
        low, high = self.settings.scale
        return value if value is not None and low <= value <= high else None

    def score(self, item: ScoreItem) -> Score:
        """Score one output (one judge call)."""
        return self.score_many([item])[0]

    def score_many(self, items: Sequence[ScoreItem]) -> list[Score]:
        """Ask the judge about every parsed output in one call; an unparsed output gets the lowest rating."""
        if self._call is None:
            raise PluginError(
                "the judge metric scores only inside a run (the engine gives it the judge target); "
                "it cannot score outside one"
            )
        low, high = self.settings.scale
        asked = [i for i, item in enumerate(items) if item.pred.ok]
        replies = self._call([self.prompt(items[i]) for i in asked], [items[i].example.index for i in asked])
        scores: list[Score] = [
            Score(0.0, detail=f"parse failure: {item.pred.error}", parts={"rating": float(low)}) for item in items
        ]
        for i, generation in zip(asked, replies, strict=True):
            parts = {"judge_latency_s": generation.latency_s}
            if generation.cost_usd is not None:
                parts["judge_cost_usd"] = generation.cost_usd
            value = self.rating(generation.text)
            reply = " ".join(generation.text.split())
            if value is None:
                detail = f"judge reply has no rating from {low} to {high}: {reply[:200]!r}"
                scores[i] = Score(0.0, detail=detail, parts={**parts, "judge_unparsed": 1.0})
            else:
                scores[i] = Score((value - low) / (high - low), detail=reply[:200], parts={**parts, "rating": value})
        return scores

    def aggregate(self, scores: Sequence[Score], seed: int = 0) -> Aggregate:
        """Mean score of the outputs the judge rated; unparsed judge replies are left out and counted."""
        from fteval.analysis.stats import mean_with_ci

        rated = [s.value for s in scores if "judge_unparsed" not in s.parts]
        agg = mean_with_ci(rated, seed=seed)
        left_out = len(scores) - len(rated)
        if not left_out:
            return agg
        return Aggregate(agg.value, agg.ci_low, agg.ci_high, agg.n, f"{agg.method}; {left_out} unparsed judge replies")
