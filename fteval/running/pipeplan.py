"""``fteval plan`` for pipeline targets: calls, tokens and cost per question, before any call is made.

Each step's prompt is rendered for every eval row with the row's shots and, standing in for the
earlier steps' outputs (unknown before they run), the row's gold answer; a step's output is counted
as its ``max_new_tokens`` and a conditional step as running on every row. So calls and output tokens
are upper bounds; prompt tokens are close to what the steps will send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fteval.data.shots import ShotPicker, shot_values
from fteval.plugin import Example, Prompt
from fteval.running.pipeline import hidden_columns, step_settings
from fteval.spec.loader import LoadedSpec
from fteval.spec.pipespec import Pipeline, Step
from fteval.spec.templates import render

__all__ = ["StepEstimate", "estimate_pipeline"]


@dataclass
class StepEstimate:
    """One step's calls and tokens per question (means over the eval rows)."""

    step: str
    target: str
    calls: int
    prompt_tokens: float
    completion_tokens: float
    cost_usd: float | None = None
    notes: list[str] = field(default_factory=list)


def _stand_in(step: Step, example: Example) -> dict[str, Any]:
    """What an earlier step's result looks like before it runs: the gold answer as its output."""
    return {
        "ran": True,
        "output": example.target,
        "answer": example.target,
        "parsed": example.target,
        "ok": True,
        "error": "",
        "answers": [example.target] * step.samples,
        "checks": {c: 1.0 for c in step.checks},
        "check_errors": {c: "" for c in step.checks},
    }


def estimate_pipeline(
    loaded: LoadedSpec,
    name: str,
    examples: Sequence[Example],
    train: Sequence[Example],
    count: Callable[[Prompt], int],
    cost: Callable[[str, int, int], float | None],
) -> list[StepEstimate]:
    """Per-step estimates of pipeline target ``name`` over ``examples`` (the eval rows).

    Args:
        loaded: the spec.
        name: a target with a ``pipeline`` section.
        examples: the rendered eval rows.
        train: the rendered train rows (shots).
        count: tokens of a prompt (the target's counter).
        cost: USD of (target, prompt tokens, completion tokens) for one call, or None when unknown.

    Raises:
        TemplateError: a template cannot be rendered for a row.
    """
    pipeline: Pipeline | None = loaded.spec.targets[name].pipeline
    if pipeline is None or not examples:
        return []
    picker = ShotPicker(pipeline.shots, train, examples, loaded.spec.prompt.user) if pipeline.shots else None
    hidden = hidden_columns(loaded.spec)
    out = []
    for step in pipeline.steps:
        callee = step.target or name
        settings = step_settings(loaded.targets[callee].settings, step)
        prompt_tokens = 0
        for e in examples:
            variables: dict[str, Any] = {
                **{k: v for k, v in e.row.items() if k not in hidden},
                "prompt": e.prompt.user,
                "system": e.prompt.system or "",
                "shots": [shot_values(s) for s in picker.pick(e)] if picker else [],
                "steps": {s.name: _stand_in(s, e) for s in pipeline.steps[: pipeline.steps.index(step)]},
            }
            where = f"plan: eval row {e.index + 1}: step {step.name!r}"
            system = e.prompt.system if step.system is None else render(step.system, variables, where=where) or None
            prompt_tokens += count(Prompt(system, render(step.user, variables, where=where)))
        n = len(examples)
        estimate = StepEstimate(step.name, callee, step.samples, prompt_tokens / n * step.samples, 0.0)
        estimate.completion_tokens = float(settings.max_new_tokens * step.samples)
        per_call = cost(callee, round(prompt_tokens / n), settings.max_new_tokens)
        estimate.cost_usd = None if per_call is None else per_call * step.samples
        if step.when is not None:
            estimate.notes.append("conditional: counted as running on every row")
        out.append(estimate)
    return out
