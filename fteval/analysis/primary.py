"""A run's primary metric and its direction: the metric on which an example is right or wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fteval import registry
from fteval.analysis.summary import metric_order
from fteval.errors import FtevalError
from fteval.storage.records import AggregateRecord, ExampleRecord, RunRecord

__all__ = ["PrimaryMetric", "higher_is_better", "primary_metric"]


@dataclass(frozen=True)
class PrimaryMetric:
    """The metric ``show --wrong`` and a report's wrong examples are judged on, and whether higher is better."""

    name: str | None
    higher_is_better: bool = True

    def wrong(self, example: ExampleRecord) -> bool:
        """Whether an example parsed but is not right on this metric (``ExampleRecord.is_right``)."""
        return (
            example.parse_ok and self.name is not None and example.is_right(self.name, self.higher_is_better) is False
        )


def higher_is_better(metric: str | None) -> bool:
    """The metric plugin's ``higher_is_better``; True when there is no metric or its plugin is not installed."""
    if metric is None:
        return True
    try:
        return bool(getattr(registry.load("metric", metric), "higher_is_better", True))
    except FtevalError:
        return True


def primary_metric(
    run: RunRecord, aggregates: Sequence[AggregateRecord], examples: Sequence[ExampleRecord]
) -> PrimaryMetric:
    """The first metric of the run's order that scored examples (else the first of the order), with its direction."""
    names = metric_order(run, list(aggregates))
    scored = examples[0].scores if examples else {}
    name = next((m for m in names if m in scored), names[0] if names else None)
    return PrimaryMetric(name, higher_is_better(name))
