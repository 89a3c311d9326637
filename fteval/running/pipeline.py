"""Running a pipeline target: its steps per batch of rows, every call through ``fteval.running.calls``.

Each step renders its templates for the rows it runs on (a ``when`` condition may skip it), asks
its model through a :class:`~fteval.running.calls.TargetCaller` (one batched call per sample), extracts and
parses the answer, votes when it samples several times, and runs its gold-blind checks. The answer
of the last step that ran is the row's output. Calls are recorded per (run, row, step, sample), so
a run killed between steps resumes at the step where it stopped and repeats no call.

Per row: tokens and cost are sums over every call; latency is the sum over steps, where the samples
of one step (sent together, as a server would run them in parallel) count once, with the slowest.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fteval.data.shots import ShotPicker, shot_values
from fteval.errors import TemplateError
from fteval.identity import canonical_json
from fteval.plugin import Example, Generation, GenerationSettings, Metric, Parsed, Parser, Prompt, ScoreItem
from fteval.running.calls import Call, CallSite, TargetCaller
from fteval.spec.pipespec import Pipeline, Step
from fteval.spec.templates import check_template, render

if TYPE_CHECKING:
    from fteval.running.engine import Engine
    from fteval.spec.model import Spec

__all__ = [
    "PipelineAnswer",
    "PipelineRunner",
    "compile_answer_regex",
    "condition_template",
    "gold_only_columns",
    "hidden_columns",
    "majority",
    "step_settings",
    "step_targets",
]

BUILTIN_NAMES = frozenset({"prompt", "system", "shots", "steps"})


def condition_template(expression: str) -> str:
    """The template that renders ``1`` when a step's ``when`` expression is true."""
    return "{% if " + expression + " %}1{% endif %}"


def step_targets(name: str, pipeline: Pipeline) -> list[str]:
    """The targets a pipeline target's steps call, its own (``name``) first, each once."""
    out = [name]
    for step in pipeline.steps:
        if step.target is not None and step.target not in out:
            out.append(step.target)
    return out


def gold_only_columns(variables_of_target: set[str], variables_of_prompt: set[str]) -> set[str]:
    """Columns only the gold target template reads: hidden from steps and checks."""
    return variables_of_target - variables_of_prompt


def majority(parsed: Sequence[Parsed]) -> int:
    """Index of the sample holding the majority parsed answer; ties (and no parse at all) go to the earliest."""
    keys = [canonical_json(p.value) if p.ok else None for p in parsed]
    votes = Counter(k for k in keys if k is not None)
    if not votes:
        return 0
    top = max(votes.values())
    return next(i for i, k in enumerate(keys) if k is not None and votes[k] == top)


@functools.lru_cache(maxsize=64)
def compile_answer_regex(pattern: str) -> Any:
    """``pattern`` compiled with RE2 (linear time on any output; ``.`` matches newlines).

    A backtracking engine would let a spec's pattern, e.g. ``(a+)+$``, hang a run on what a model wrote.

    Raises:
        ValueError: not a valid pattern in RE2's syntax (no backreferences or lookarounds).
    """
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"not a valid regex (RE2 syntax: no backreferences or lookarounds): {exc}") from None


@dataclass
class StepResult:
    """What a step produced for one row, as later templates see it (``steps.<name>``)."""

    ran: bool = False
    output: str = ""
    answer: str = ""
    parsed: Any = None
    ok: bool = False
    error: str = ""
    answers: list[str] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)
    check_errors: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """The result as template variables."""
        return {
            "ran": self.ran,
            "output": self.output,
            "answer": self.answer,
            "parsed": self.parsed,
            "ok": self.ok,
            "error": self.error,
            "answers": list(self.answers),
            "checks": dict(self.checks),
            "check_errors": dict(self.check_errors),
        }


@dataclass
class PipelineAnswer:
    """A row's pipeline result: the output scored, the prompt of the step that gave it, totals over its calls."""

    generation: Generation
    prompt: Prompt
    cached: bool


@dataclass
class _Row:
    example: Example
    values: dict[str, Any]
    steps: dict[str, StepResult] = field(default_factory=dict)
    calls: list[tuple[str, list[Call]]] = field(default_factory=list)
    last: tuple[Prompt, str] | None = None


class PipelineRunner:
    """Runs one pipeline target's steps over batches of rows of one run."""

    def __init__(self, engine: Engine, target: str, run_id: str, parser: Parser, examples: Sequence[Example]) -> None:
        """Prepare callers, checks and the shot picker.

        Args:
            engine: the engine (store, spec, other targets).
            target: the pipeline target's name.
            run_id: the run the calls are recorded under.
            parser: the task's parser (answers of every step are parsed with it).
            examples: every eval example (their prompts are never drawn as shots).
        """
        from fteval.running.engine import render_examples  # the engine imports this module

        self.engine, self.target, self.run_id, self.parser = engine, target, run_id, parser
        pipeline = engine.spec.targets[target].pipeline
        assert pipeline is not None
        self.pipeline = pipeline
        self.callers = {name: TargetCaller(engine, name) for name in step_targets(target, pipeline)}
        names = {c for step in pipeline.steps for c in step.checks}
        self.checks: dict[str, Metric] = {n: engine.loaded.metrics[n].build() for n in sorted(names)}
        self.hidden = hidden_columns(engine.spec)
        self.picker = (
            ShotPicker(pipeline.shots, render_examples(engine.loaded, "train"), examples, engine.spec.prompt.user)
            if pipeline.shots is not None
            else None
        )

    def close(self) -> None:
        """Release the loaded models and the checks' resources."""
        for caller in self.callers.values():
            caller.close()
        for metric in self.checks.values():
            metric.close()

    def answer(self, batch: Sequence[Example]) -> list[PipelineAnswer]:
        """Run every step over ``batch``; one answer per example, in order."""
        rows = [_Row(e, self._values(e)) for e in batch]
        for step in self.pipeline.steps:
            active, prompts = [], []
            for r in rows:
                try:
                    if self._runs(step, r):
                        prompts.append(self._prompt(step, r))
                        active.append(r)
                    r.steps.setdefault(step.name, StepResult())
                except TemplateError as exc:
                    # a template that fails on what a model wrote (e.g. `parsed.x` of a bad parse): the
                    # row fails, as a broken output does; the run goes on
                    r.steps[step.name] = StepResult(ran=True, error=str(exc))
                    r.last = (r.example.prompt, "")
                    self.engine.notify(f"{self.target}: {exc}; the row's answer is empty")
            if active:
                self._run_step(step, active, prompts)
        return [self._finish(r) for r in rows]

    # ------------------------------------------------------------ per row

    def _values(self, example: Example) -> dict[str, Any]:
        row = {k: v for k, v in example.row.items() if k not in self.hidden}
        shots = [shot_values(s) for s in self.picker.pick(example)] if self.picker is not None else []
        return {**row, "prompt": example.prompt.user, "system": example.prompt.system or "", "shots": shots}

    def _variables(self, row: _Row) -> dict[str, Any]:
        return {**row.values, "steps": {name: result.values() for name, result in row.steps.items()}}

    def _where(self, row: _Row, step: Step, key: str) -> str:
        return f"eval row {row.example.index + 1}: targets.{self.target}.pipeline step {step.name!r} {key}"

    def _runs(self, step: Step, row: _Row) -> bool:
        if step.when is None:
            return True
        rendered = render(condition_template(step.when), self._variables(row), where=self._where(row, step, "when"))
        return rendered == "1"

    def _prompt(self, step: Step, row: _Row) -> Prompt:
        variables = self._variables(row)
        if step.system is None:
            system = row.example.prompt.system
        else:
            system = render(step.system, variables, where=self._where(row, step, "system")) or None
        return Prompt(system, render(step.user, variables, where=self._where(row, step, "user")))

    # ------------------------------------------------------------ per step

    def _run_step(self, step: Step, rows: list[_Row], prompts: list[Prompt]) -> None:
        caller = self.callers[step.target or self.target]
        settings = step_settings(caller.settings, step)
        per_sample: list[list[Call]] = []
        for k in range(step.samples):
            sample = settings.model_copy(update={"seed": settings.seed + k}) if step.samples > 1 else settings
            sites = [CallSite(self.run_id, r.example.index, step.name, k) for r in rows]
            per_sample.append(caller.calls(prompts, settings=sample, purpose="pipeline", sites=sites))
        for j, row in enumerate(rows):
            calls = [sample[j] for sample in per_sample]
            row.calls.append((step.name, calls))
            answers = [self._extract(step, c.generation.text) for c in calls]
            parsed = [self._parse(a) for a in answers]
            best = majority(parsed)
            result = StepResult(
                ran=True,
                output=calls[best].generation.text,
                answer=answers[best],
                parsed=parsed[best].value,
                ok=parsed[best].ok,
                error=parsed[best].error or "",
                answers=answers,
            )
            self._check(step, row, result, parsed[best])
            row.steps[step.name] = result
            row.last = (prompts[j], answers[best])

    def _extract(self, step: Step, text: str) -> str:
        if step.answer_regex is None:
            return text
        found = compile_answer_regex(step.answer_regex).search(text)
        if found is None:
            return ""
        value = found.group(1) if len(found.groups()) else found.group(0)
        return str(value or "").strip()  # a group that took no part in the match is None

    def _parse(self, text: str) -> Parsed:
        try:
            return self.parser.parse(text)
        except Exception as exc:  # a parser bug must not lose the run
            return Parsed.fail(f"parser raised {type(exc).__name__}: {exc}")

    def _check(self, step: Step, row: _Row, result: StepResult, parsed: Parsed) -> None:
        """Run the step's checks on its answer; the gold answer is hidden from them."""
        blind = Example(row.example.index, dict(row.values), row.example.prompt, "")
        for name in step.checks:
            item = ScoreItem(
                blind, result.answer, parsed, Parsed.fail("the gold answer is hidden from pipeline checks")
            )
            try:
                score = self.checks[name].score_many([item])[0]
                result.checks[name], result.check_errors[name] = score.value, score.detail or ""
            except Exception as exc:  # a check that fails counts as failed, the run goes on
                result.checks[name], result.check_errors[name] = 0.0, f"{type(exc).__name__}: {exc}"

    def _finish(self, row: _Row) -> PipelineAnswer:
        calls = [c for _, step_calls in row.calls for c in step_calls]
        gens = [c.generation for c in calls]
        latency = sum(max(c.generation.latency_s for c in step_calls) for _, step_calls in row.calls)
        prompt, text = row.last if row.last is not None else (row.example.prompt, "")
        generation = Generation(
            text,
            latency,
            _total([g.prompt_tokens for g in gens]),
            _total([g.completion_tokens for g in gens]),
            _total([g.cost_usd for g in gens]),
        )
        return PipelineAnswer(generation, prompt, all(c.cached for c in calls))


def hidden_columns(spec: Spec) -> set[str]:
    """The row columns only the spec's gold target reads (a step, a check or a shot query never sees them)."""
    prompt = getattr(spec, "prompt", None)
    if prompt is None:
        return set()
    seen: set[str] = set()
    for text in (prompt.system, prompt.user):
        if text:
            seen |= check_template(text)[0]
    return gold_only_columns(check_template(prompt.target)[0], seen)


def step_settings(base: GenerationSettings, step: Step) -> GenerationSettings:
    """A step's decoding settings: the answering target's, with the step's overrides."""
    return GenerationSettings.model_validate({**base.model_dump(), **step.generation})


def _total(values: Sequence[Any]) -> Any:
    """The sum of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None
