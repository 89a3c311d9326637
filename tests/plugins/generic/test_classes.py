"""Classification metrics: macro F1, per-class precision / recall / F1, confusion matrix; the choice parser's surrounding text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fteval_generic.classes import MacroF1, class_report
from fteval_generic.parsers import ChoiceConfig, ChoiceParser
from fteval_testutil import fteval_run

from fteval.plugin import Example, Parsed, Prompt, ScoreItem


def _score(gold: str, pred: str | None) -> object:
    pred_parsed = Parsed(ok=True, value=pred) if pred is not None else Parsed.fail("no label")
    item = ScoreItem(Example(0, {}, Prompt(None, "q"), gold), pred or "?", pred_parsed, Parsed(ok=True, value=gold))
    return MacroF1().score(item)


def test_macro_f1_matches_hand_computed_per_class_values() -> None:
    # gold a a a b b c ; pred a a b b (unparsed) a
    scores = [_score(g, p) for g, p in zip("aaabbc", ["a", "a", "b", "b", None, "a"], strict=True)]
    report = class_report([s.parts for s in scores])
    rows = {r.label: r for r in report.rows}
    assert (rows["a"].precision, rows["a"].recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert (rows["b"].precision, rows["b"].recall, rows["b"].support) == (0.5, 0.5, 2)
    assert rows["c"].f1 == 0.0 and rows["c"].support == 1
    assert report.matrix["b"] == {"a": 0, "b": 1, "c": 0, "(unparsed)": 1}
    agg = MacroF1().aggregate(scores)
    assert agg.value == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    assert agg.n == 6 and agg.method == "bootstrap" and agg.ci_low <= agg.value <= agg.ci_high
    assert [s.value for s in scores] == [1, 1, 0, 1, 0, 0]


def test_majority_class_predictions_have_low_macro_f1() -> None:
    scores = [_score(g, "yes") for g in ["yes"] * 9 + ["no"]]
    assert MacroF1().aggregate(scores).value == pytest.approx((2 * 0.9 / 1.9) / 2)


def test_choice_accepts_surrounding_text_only_when_allowed() -> None:
    strict = ChoiceParser(ChoiceConfig(labels=["spam", "not spam"]))
    loose = ChoiceParser(ChoiceConfig(labels=["spam", "not spam"], allow_surrounding_text=True))
    assert not strict.parse("The answer is: spam.").ok
    assert loose.parse("The answer is: Spam.").value == "spam"
    assert loose.parse("I think it is not spam").value == "not spam"
    assert not loose.parse("spammy").ok
    both = ChoiceParser(ChoiceConfig(labels=["yes", "no"], allow_surrounding_text=True)).parse("yes or no")
    assert not both.ok and "several labels" in both.error


def test_show_prints_the_confusion_matrix_and_json_breakdown(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    spec = Path(__file__).resolve().parents[3] / "specs" / "yesno.yaml"
    assert fteval_run("run", str(spec), store=store).returncode == 0
    shown = fteval_run("show", "latest", store=store)
    assert shown.returncode == 0, shown.stderr
    assert "Confusion matrix" in shown.stdout and "Per class" in shown.stdout
    data = json.loads(fteval_run("show", "latest", "--json", store=store).stdout)
    tables = {b["title"]: b for b in data["breakdowns"]}
    matrix = {row[0]: row[1:] for row in tables["Confusion matrix"]["rows"]}
    # the lookup baseline answers the majority label ('yes') to every unseen question
    assert tables["Confusion matrix"]["columns"] == ["gold \\ predicted", "yes", "no"]
    assert matrix["no"] == [10, 0] and sum(matrix["yes"]) == 10
    f1 = [row[5] for row in tables["Per class"]["rows"]]
    aggregate = next(a for a in data["aggregates"] if a["metric"] == "macro_f1")
    assert sum(f1) / len(f1) == pytest.approx(aggregate["value"])
