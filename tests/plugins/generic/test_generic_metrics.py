"""The generic metrics and the lookup baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from fteval_generic.lookup import LookupGenerator, LookupTrainer
from fteval_generic.metrics import CharExact, ExactMatch, FormatRate

from fteval.plugin import Example, Parsed, Prompt, ScoreItem
from fteval.testing import RecordingTrainContext

pytestmark = pytest.mark.fast


def _item(output: str, pred: Parsed, gold: Parsed, target: str = "gold") -> ScoreItem:
    return ScoreItem(Example(0, {}, Prompt(None, "q"), target), output, pred, gold)


def test_exact_match_compares_parsed_values() -> None:
    gold = Parsed(ok=True, value={"a": 1})
    assert ExactMatch().score(_item("x", Parsed(ok=True, value={"a": 1}), gold)).value == 1.0
    assert ExactMatch().score(_item("x", Parsed(ok=True, value={"a": 2}), gold)).value == 0.0
    failed = ExactMatch().score(_item("x", Parsed.fail("bad"), gold))
    assert failed.value == 0.0 and "parse failure" in failed.detail


def test_char_exact_ignores_only_surrounding_whitespace() -> None:
    ok = Parsed(ok=True, value=None)
    assert CharExact().score(_item(" gold\n", ok, ok)).value == 1.0
    assert CharExact().score(_item("Gold", ok, ok)).value == 0.0


def test_format_rate_aggregate_has_wilson_ci() -> None:
    metric = FormatRate()
    scores = [metric.score(_item("", Parsed(ok=i % 4 != 0), Parsed(ok=True))) for i in range(40)]
    agg = metric.aggregate(scores)
    assert agg.value == 0.75 and agg.n == 40 and agg.method == "wilson"
    assert 0.59 < agg.ci_low < 0.75 < agg.ci_high < 0.87


def test_lookup_memorises_and_falls_back_to_the_majority(tmp_path: Path) -> None:
    train = [
        Example(0, {}, Prompt(None, "Is a cat a mammal?"), "yes"),
        Example(1, {}, Prompt(None, "Is a trout a mammal?"), "no"),
        Example(2, {}, Prompt(None, "Is a dog a mammal?"), "yes"),
    ]
    ctx = RecordingTrainContext(train, [], tmp_path)
    handle = LookupTrainer().fit(ctx)
    model = LookupGenerator().load(handle, LookupTrainer.Config(), None)
    out = model.generate([Prompt(None, "is a TROUT  a mammal?"), Prompt(None, "Is a shark a mammal?")])
    assert [g.text for g in out] == ["no", "yes"]
    assert ctx.stats["train_rows"] == 3
    again = LookupTrainer().fit(RecordingTrainContext(train, [], tmp_path))
    assert again.fingerprint == handle.fingerprint
    other = LookupTrainer().fit(RecordingTrainContext(train[:2], [], tmp_path))
    assert other.fingerprint != handle.fingerprint
