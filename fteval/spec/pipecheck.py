"""Validate-time checks of pipeline targets: step references (unknown, later, cycles), templates, targets, checks."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, nodes
from pydantic import ValidationError

from fteval.plugin import GenerationSettings
from fteval.running.pipeline import BUILTIN_NAMES, compile_answer_regex, condition_template, hidden_columns
from fteval.spec.pipespec import Pipeline, Step
from fteval.spec.templates import check_template, environment

if TYPE_CHECKING:
    from fteval.spec.loader import LoadedSpec

__all__ = ["check_pipelines", "step_references"]

KeyPath = tuple[str | int, ...]
Add = Callable[[KeyPath, str], None]


def step_references(source: str) -> set[str]:
    """Names of the steps a template reads (``steps.NAME`` or ``steps['NAME']``); none when it does not parse."""
    try:
        ast = environment().parse(source)
    except TemplateSyntaxError:
        return set()
    out = set()
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "steps":
            out.add(node.attr)
    for item in ast.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and item.node.name == "steps" and isinstance(item.arg, nodes.Const):
            out.add(str(item.arg.value))
    return out


def check_references(source: str) -> set[tuple[str, str]]:
    """(step, metric) pairs a template reads as ``steps.STEP.checks.METRIC`` (or ``check_errors``)."""
    try:
        ast = environment().parse(source)
    except TemplateSyntaxError:
        return set()
    out = set()
    for node in ast.find_all(nodes.Getattr):
        inner = node.node
        if isinstance(inner, nodes.Getattr) and inner.attr in ("checks", "check_errors"):
            step = inner.node
            if isinstance(step, nodes.Getattr) and isinstance(step.node, nodes.Name) and step.node.name == "steps":
                out.add((step.attr, node.attr))
    return out


def _templates(step: Step) -> list[tuple[str, str]]:
    """(key, template source) of each template of a step."""
    out = [("user", step.user)]
    if step.system:
        out.append(("system", step.system))
    if step.when is not None:
        out.append(("when", condition_template(step.when)))
    return out


def _cycle(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A reference cycle through ``start``, as the list of step names along it, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def _check_references(pipeline: Pipeline, path: KeyPath, add: Add) -> None:
    names = [s.name for s in pipeline.steps]
    position = {n: i for i, n in enumerate(names)}
    edges = {s.name: {r for _, src in _templates(s) for r in step_references(src)} for s in pipeline.steps}
    checks = {s.name: set(s.checks) for s in pipeline.steps}
    for i, step in enumerate(pipeline.steps):
        for key, source in _templates(step):
            for ref, metric in sorted(check_references(source)):
                if ref in checks and metric not in checks[ref]:
                    add(
                        path + ("steps", i, key),
                        f"step {step.name!r} reads steps.{ref}.checks.{metric}, but step {ref!r} does not check"
                        f" {metric!r}; its checks: {', '.join(sorted(checks[ref])) or 'none'}",
                    )
        if step.name in names[:i]:
            add(path + ("steps", i, "name"), f"step name {step.name!r} is used twice; each step needs its own name")
        for key, source in _templates(step):
            for ref in sorted(step_references(source)):
                where = path + ("steps", i, key)
                if ref not in position:
                    add(
                        where,
                        f"step {step.name!r} reads steps.{ref}, but the pipeline has no step {ref!r}; steps: {', '.join(names)}",
                    )
                elif ref == step.name:
                    add(
                        where,
                        f"step {step.name!r} reads its own output (steps.{ref}); a step may read only earlier steps",
                    )
                elif position[ref] > i:
                    cycle = _cycle(step.name, edges)
                    if cycle is not None:
                        add(where, f"step {step.name!r} reads steps.{ref}: a cycle of steps ({' -> '.join(cycle)})")
                    else:
                        add(
                            where,
                            f"step {step.name!r} reads steps.{ref}, the output of a step that runs later;"
                            " steps run in order, so a step may read only earlier steps",
                        )


def _check_variables(step: Step, i: int, path: KeyPath, columns: set[str] | None, hidden: set[str], add: Add) -> None:
    for key, source in _templates(step):
        variables, problems = check_template(source)
        where = path + ("steps", i, key)
        for problem in problems:
            add(where, problem)
        for var in sorted(variables & hidden):
            add(where, f"template variable {var!r} is the gold answer's column; pipeline steps never see it")
        if columns is not None:
            for var in sorted(variables - columns - BUILTIN_NAMES - hidden):
                add(
                    where,
                    f"template variable {var!r} is neither a dataset column nor one of {', '.join(sorted(BUILTIN_NAMES))}",
                )


def _generation_message(err: Any) -> str:
    """A step's generation error as the loader words a target's: an unknown key gets a did-you-mean and the allowed keys."""
    if err["type"] != "extra_forbidden":
        return str(err["msg"])
    key, allowed = str(err["loc"][-1]), sorted(GenerationSettings.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"


def _check_step(loaded: LoadedSpec, name: str, step: Step, i: int, path: KeyPath, add: Add) -> None:
    spec = loaded.spec
    where = path + ("steps", i)
    callee = step.target or name
    if step.target is not None:
        other = spec.targets.get(step.target)
        if other is None:
            add(where + ("target",), f"no target {step.target!r} in the spec; targets: {', '.join(spec.targets)}")
            return
        if other.pipeline is not None:
            add(where + ("target",), f"target {step.target!r} is itself a pipeline; a step calls a model target")
            return
    resolved = loaded.targets.get(callee)
    if resolved is not None:
        try:
            settings = GenerationSettings.model_validate({**resolved.settings.model_dump(), **step.generation})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                add(where + ("generation", *err["loc"]), _generation_message(err))
        else:
            if step.samples > 1 and settings.temperature == 0:
                add(
                    where + ("samples",),
                    f"{step.samples} samples at temperature 0 are the same answer; set generation.temperature > 0",
                )
    if step.answer_regex is not None:
        try:
            compile_answer_regex(step.answer_regex)
        except ValueError as exc:
            add(where + ("answer_regex",), str(exc))
    for j, check in enumerate(step.checks):
        if check not in loaded.metrics:
            add(
                where + ("checks", j),
                f"no metric {check!r} in the spec; metrics: {', '.join(loaded.metrics) or 'none'}",
            )


def check_pipelines(loaded: LoadedSpec, columns: set[str] | None, add: Add) -> None:
    """Check every pipeline target of ``loaded``; problems go to ``add(key path, message)``.

    Args:
        loaded: the spec, with targets and metrics resolved.
        columns: the columns every file split has, when they could be read.
        add: records a problem at a key path of the spec.
    """
    spec = loaded.spec
    prompt = getattr(spec, "prompt", None)
    targets: dict[str, Any] = getattr(spec, "targets", None) or {}
    hidden = hidden_columns(spec) if prompt is not None else set()
    for name, target in targets.items():
        pipeline = target.pipeline
        if pipeline is None:
            continue
        path: KeyPath = ("targets", name, "pipeline")
        _check_references(pipeline, path, add)
        for i, step in enumerate(pipeline.steps):
            _check_variables(step, i, path, columns, hidden, add)
            _check_step(loaded, name, step, i, path, add)
        shots = pipeline.shots
        if shots is not None:
            dataset = getattr(spec, "dataset", None)
            if dataset is not None and dataset.train is None:
                add(path + ("shots",), "shots are drawn from the train split, but the spec has no dataset.train")
            if shots.query is not None:
                variables, problems = check_template(shots.query)
                for problem in problems:
                    add(path + ("shots", "query"), problem)
                for var in sorted(variables & hidden):
                    add(path + ("shots", "query"), f"template variable {var!r} is the gold answer's column")
                for var in sorted(variables - (columns or variables)):
                    add(path + ("shots", "query"), f"template variable {var!r} is not a dataset column")
