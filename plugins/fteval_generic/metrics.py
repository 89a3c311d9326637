"""Generic metrics that work with any parser: exact match, accuracy, char_exact, format rate."""

from __future__ import annotations

from fteval.plugin import Metric, Score, ScoreItem, nfc


class ExactMatch(Metric):
    """1 when the parsed prediction equals the parsed gold (parsers emit canonical values)."""

    def score(self, item: ScoreItem) -> Score:
        if not item.pred.ok:
            return Score(0.0, detail=f"parse failure: {item.pred.error}")
        if not item.gold.ok:
            return Score(0.0, detail=f"gold failed to parse: {item.gold.error}")
        return Score(float(item.pred.value == item.gold.value))


class Accuracy(ExactMatch):
    """Classification accuracy: the parsed label equals the gold label (same rule as exact_match)."""


class CharExact(Metric):
    """1 when the raw output equals the rendered target after stripping whitespace and NFC (no parsing)."""

    def score(self, item: ScoreItem) -> Score:
        return Score(float(nfc(item.output).strip() == nfc(item.example.target).strip()))


class FormatRate(Metric):
    """Share of outputs the parser accepted."""

    def score(self, item: ScoreItem) -> Score:
        return Score(float(item.pred.ok), detail=item.pred.error)


class ParseRate(FormatRate):
    """Alias of format_rate, under the name the task packs use."""
