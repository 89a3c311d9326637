"""ViGGO metrics: function accuracy, micro slot precision/recall/F1 and an ontology check."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from fteval.analysis.stats import ratio_with_ci
from fteval.plugin import Aggregate, Metric, Parsed, PluginConfig, Score, ScoreItem
from fteval_viggo.ontology import Ontology, load_ontology

__all__ = [
    "FunctionAccuracy",
    "OntologyViolations",
    "SlotF1",
    "SlotPrecision",
    "SlotRecall",
    "slot_pairs",
]

Pair = tuple[str, str]


def _mr(parsed: Parsed) -> Mapping[str, Any] | None:
    """The canonical MR of a successful ``viggo`` parse, or None if absent or of another shape."""
    value = parsed.value
    if not parsed.ok or not isinstance(value, Mapping):
        return None
    if not isinstance(value.get("function"), str) or not isinstance(value.get("slots"), Mapping):
        return None
    return value


def _why_not(parsed: Parsed, who: str) -> str:
    """Detail line for an MR that is missing: the parse error, or a note on its shape."""
    if not parsed.ok:
        return f"{who} did not parse: {parsed.error}"
    return f"{who} is not a ViGGO MR (use the viggo parser)"


def slot_pairs(mr: Mapping[str, Any]) -> set[Pair]:
    """The (slot, value) pairs of a canonical MR; each item of a list-valued slot is one pair.

    Args:
        mr: A canonical MR as produced by ``ViggoParser``.

    Returns:
        The pairs; a list-valued slot with no items gives ``(slot, "")`` so that it still counts.
    """
    pairs: set[Pair] = set()
    for name, value in mr["slots"].items():
        if isinstance(value, list):
            pairs.update((name, str(item)) for item in value)
            if not value:
                pairs.add((name, ""))
        else:
            pairs.add((name, str(value)))
    return pairs


class FunctionAccuracy(Metric):
    """1 when the predicted function (dialogue act) equals the gold one, else 0."""

    def score(self, item: ScoreItem) -> Score:
        """Score one example; a failed parse scores 0."""
        pred, gold = _mr(item.pred), _mr(item.gold)
        if gold is None:
            return Score(0.0, _why_not(item.gold, "gold"))
        if pred is None:
            return Score(0.0, _why_not(item.pred, "prediction"))
        if pred["function"] == gold["function"]:
            return Score(1.0)
        return Score(0.0, f"function {pred['function']!r} != gold {gold['function']!r}")


class _SlotMetric(Metric):
    """Micro-averaged ratio over (slot, value) pairs; per-example counts travel in ``parts``."""

    @staticmethod
    @abstractmethod
    def ratio(tp: float, fp: float, fn: float) -> tuple[float, float]:
        """Numerator and denominator of the metric from pair counts."""

    def score(self, item: ScoreItem) -> Score:
        """Count true/false positive and false negative pairs; a failed parse predicts no pairs."""
        pred, gold = _mr(item.pred), _mr(item.gold)
        if gold is None:
            return Score(0.0, _why_not(item.gold, "gold"), {"tp": 0.0, "fp": 0.0, "fn": 0.0})
        gold_pairs = slot_pairs(gold)
        pred_pairs = slot_pairs(pred) if pred is not None else set()
        tp = float(len(pred_pairs & gold_pairs))
        fp = float(len(pred_pairs - gold_pairs))
        fn = float(len(gold_pairs - pred_pairs))
        num, den = self.ratio(tp, fp, fn)
        # A ratio with nothing to count is perfect only when both sides really are empty.
        value = num / den if den else float(pred is not None and not pred_pairs and not gold_pairs)
        detail = (
            _why_not(item.pred, "prediction")
            if pred is None
            else _pair_detail(pred_pairs - gold_pairs, gold_pairs - pred_pairs)
        )
        return Score(value, detail, {"tp": tp, "fp": fp, "fn": fn})

    def aggregate(self, scores: Sequence[Score], seed: int = 0) -> Aggregate:
        """Micro average: sum of numerators over sum of denominators, example-level bootstrap CI."""
        ratios = [self.ratio(s.parts["tp"], s.parts["fp"], s.parts["fn"]) for s in scores]
        return ratio_with_ci([r[0] for r in ratios], [r[1] for r in ratios], seed=seed)


def _pair_detail(extra: set[Pair], missing: set[Pair]) -> str | None:
    """Human-readable list of wrong and missing pairs, or None when both are empty."""
    parts = []
    if extra:
        parts.append("extra " + ", ".join(f"{k}[{v}]" for k, v in sorted(extra)))
    if missing:
        parts.append("missing " + ", ".join(f"{k}[{v}]" for k, v in sorted(missing)))
    return "; ".join(parts) or None


class SlotPrecision(_SlotMetric):
    """Micro precision: correct predicted pairs / predicted pairs (an unparsed output has none)."""

    @staticmethod
    def ratio(tp: float, fp: float, fn: float) -> tuple[float, float]:
        """tp / (tp + fp)."""
        return tp, tp + fp


class SlotRecall(_SlotMetric):
    """Micro recall: correct predicted pairs / gold pairs."""

    @staticmethod
    def ratio(tp: float, fp: float, fn: float) -> tuple[float, float]:
        """tp / (tp + fn)."""
        return tp, tp + fn


class SlotF1(_SlotMetric):
    """Micro F1 over (slot, value) pairs: 2 tp / (2 tp + fp + fn)."""

    @staticmethod
    def ratio(tp: float, fp: float, fn: float) -> tuple[float, float]:
        """2 tp / (2 tp + fp + fn), the harmonic mean of micro precision and recall."""
        return 2 * tp, 2 * tp + fp + fn


class OntologyViolations(Metric):
    """1 when a parsed output names a function or slot unknown to the ontology (lower is better)."""

    higher_is_better = False

    def __init__(self, config: PluginConfig | None = None) -> None:
        super().__init__(config)
        self.ontology: Ontology = load_ontology()

    def score(self, item: ScoreItem) -> Score:
        """Score one example; an unparsed output names nothing and scores 0."""
        pred = _mr(item.pred)
        if pred is None:
            return Score(0.0, _why_not(item.pred, "prediction"))
        problems = []
        if pred["function"] not in self.ontology.functions:
            problems.append(f"unknown function {pred['function']!r}")
        unknown = sorted(set(pred["slots"]) - self.ontology.slots)
        if unknown:
            problems.append("unknown slots " + ", ".join(repr(s) for s in unknown))
        return Score(1.0, "; ".join(problems)) if problems else Score(0.0)
