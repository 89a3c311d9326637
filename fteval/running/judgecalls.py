"""Giving model-graded metrics their judge: a recorded, cached, resumable call to another target of the spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fteval.plugin import Generation, Metric, Prompt, TargetCall
from fteval.running.calls import CallSite, TargetCaller

if TYPE_CHECKING:
    from fteval.running.engine import Engine

__all__ = ["bind_target_calls", "target_call"]


def target_call(caller: TargetCaller, run_id: str, step: str) -> TargetCall:
    """A ``TargetCall`` that records each call at (run, example index, ``step``) with purpose ``judge``."""

    def call(prompts: Sequence[Prompt], indexes: Sequence[int]) -> list[Generation]:
        sites = [CallSite(run_id, index, step) for index in indexes]
        return caller.generate(prompts, purpose="judge", sites=sites)

    return call


def bind_target_calls(engine: Engine, run_id: str, metrics: dict[str, Metric]) -> list[TargetCaller]:
    """Bind every metric that names a target (``Metric.calls_target``) to it; returns the callers to close."""
    callers: dict[str, TargetCaller] = {}
    for name, metric in metrics.items():
        target = type(metric).calls_target(metric.config)
        if target is None:
            continue
        if target not in callers:
            callers[target] = TargetCaller(engine, target)
        metric.bind(target_call(callers[target], run_id, f"metric:{name}"))
    return list(callers.values())
