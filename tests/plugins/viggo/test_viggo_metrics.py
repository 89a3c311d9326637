"""ViGGO metrics on real rows: function accuracy, micro slot P/R/F1, ontology violations."""

from __future__ import annotations

import hashlib
import random
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from fteval_viggo.metrics import (
    FunctionAccuracy,
    OntologyViolations,
    SlotF1,
    SlotPrecision,
    SlotRecall,
    slot_pairs,
)
from fteval_viggo.ontology import load_ontology
from fteval_viggo.parser import ViggoParser
from viggo_helpers import SPLITS, make_item, read_rows

from fteval.plugin import Metric, Parser

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[3]
DIVISION = (
    "inform(name[Tom Clancy's The Division], esrb[M (for Mature)], rating[average], "
    "genres[role-playing, shooter, tactical], player_perspective[third person], "
    "has_multiplayer[yes], platforms[PlayStation, Xbox, PC], available_on_steam[yes])"
)
LITTLE_BIG = (
    "verify_attribute(name[Little Big Adventure], rating[average], has_multiplayer[no], platforms[PlayStation])"
)
WEIRDEST = "request(specifier[weirdest])"
PLATFORMS_REQUEST = "request_attribute(platforms[])"
SLOT_METRICS = (SlotPrecision, SlotRecall, SlotF1)


def test_slot_pairs_count_list_items_separately(real):
    pairs = slot_pairs(ViggoParser().parse(real(DIVISION)).value)
    assert len(pairs) == 12
    assert {("genres", "shooter"), ("platforms", "PC"), ("esrb", "M (for Mature)")} <= pairs
    assert slot_pairs(ViggoParser().parse(real(PLATFORMS_REQUEST)).value) == {("platforms", "")}


def test_function_accuracy(real):
    metric = FunctionAccuracy()
    assert metric.score(make_item(real(LITTLE_BIG), LITTLE_BIG)).value == 1.0
    wrong = metric.score(make_item(LITTLE_BIG.replace("verify_attribute", "confirm"), LITTLE_BIG))
    assert wrong.value == 0.0 and wrong.detail == "function 'confirm' != gold 'verify_attribute'"
    slots_differ = make_item(real(WEIRDEST), "request(specifier[strangest])")
    assert metric.score(slots_differ).value == 1.0
    unparsed = metric.score(make_item("verify_attribute(name[Little", LITTLE_BIG))
    assert unparsed.value == 0.0 and unparsed.detail.startswith("prediction did not parse")


def test_slot_counts_on_one_example(real):
    # Gold has 12 pairs; the prediction drops "tactical", gets the rating wrong, adds a developer.
    pred = real(DIVISION).replace(", tactical", "").replace("rating[average]", "rating[good]")
    pred = pred.replace("available_on_steam[yes]", "available_on_steam[yes], developer[Ubisoft]")
    item = make_item(pred, DIVISION)
    scores = {cls.__name__: cls().score(item) for cls in SLOT_METRICS}
    for score in scores.values():
        assert dict(score.parts) == {"tp": 10.0, "fp": 2.0, "fn": 2.0}
    assert scores["SlotPrecision"].value == pytest.approx(10 / 12)
    assert scores["SlotRecall"].value == pytest.approx(10 / 12)
    assert scores["SlotF1"].value == pytest.approx(20 / 24)
    assert scores["SlotF1"].detail == (
        "extra developer[Ubisoft], rating[good]; missing genres[tactical], rating[average]"
    )


def test_slot_metrics_are_order_insensitive(real):
    reordered = (
        "verify_attribute(platforms[PlayStation], has_multiplayer[no], rating[average], name[Little Big Adventure])"
    )
    for cls in SLOT_METRICS:
        assert cls().score(make_item(reordered, real(LITTLE_BIG))).value == 1.0


def test_unparsed_prediction_predicts_no_pairs(real):
    item = make_item("I think it's verify_attribute", real(LITTLE_BIG))
    for cls in SLOT_METRICS:
        score = cls().score(item)
        assert score.value == 0.0
        assert dict(score.parts) == {"tp": 0.0, "fp": 0.0, "fn": 4.0}
        assert score.detail.startswith("prediction did not parse: free text")


def test_micro_average_weights_pairs_not_examples(real):
    # Perfect on 12 pairs; one wrong pair out of one; an unparsed output with 4 gold pairs.
    items = [
        make_item(real(DIVISION), DIVISION),
        make_item("request(specifier[strangest])", real(WEIRDEST)),
        make_item("", real(LITTLE_BIG)),
    ]
    precision = SlotPrecision().aggregate(SlotPrecision().score_many(items))
    recall = SlotRecall().aggregate(SlotRecall().score_many(items))
    f1 = SlotF1().aggregate(SlotF1().score_many(items))
    assert precision.value == pytest.approx(12 / 13)  # the unparsed output predicts nothing
    assert recall.value == pytest.approx(12 / 17)
    assert f1.value == pytest.approx(2 * 12 / (2 * 12 + 1 + 5))
    harmonic = 2 * precision.value * recall.value / (precision.value + recall.value)
    assert f1.value == pytest.approx(harmonic)
    for agg in (precision, recall, f1):
        assert agg.n == 3 and agg.method == "bootstrap"
        assert agg.ci_low <= agg.value <= agg.ci_high


def test_empty_list_slot_counts_as_a_pair(real):
    gold = real(PLATFORMS_REQUEST)
    assert SlotF1().score(make_item(gold, gold)).value == 1.0
    wrong = SlotF1().score(make_item(real("request_attribute(esrb[])"), gold))
    assert wrong.value == 0.0 and dict(wrong.parts) == {"tp": 0.0, "fp": 1.0, "fn": 1.0}


def test_gold_that_does_not_parse_scores_zero(real):
    item = make_item(real(WEIRDEST), "not an MR")
    for metric in (FunctionAccuracy(), *(cls() for cls in SLOT_METRICS)):
        score = metric.score(item)
        assert score.value == 0.0 and score.detail.startswith("gold did not parse")


def test_test_split_scored_against_itself_and_against_shuffled_gold():
    parser = ViggoParser()
    golds = [row["mr"] for row in read_rows("test")]
    shuffled = golds[:]
    random.Random(0).shuffle(shuffled)
    for cls in (FunctionAccuracy, *SLOT_METRICS):
        metric = cls()
        same = metric.aggregate(metric.score_many([make_item(g, g, parser) for g in golds]))
        assert same.value == 1.0 and same.n == 1083
        other = metric.aggregate(
            metric.score_many([make_item(p, g, parser) for p, g in zip(shuffled, golds, strict=False)])
        )
        assert other.value < 0.5, (cls.__name__, other.value)


def test_ontology_violations(real):
    metric = OntologyViolations()
    assert metric.score(make_item(real(DIVISION), DIVISION)).value == 0.0
    bad_function = metric.score(make_item("describe(name[Tetris])", DIVISION))
    assert bad_function.value == 1.0 and bad_function.detail == "unknown function 'describe'"
    bad_slot = metric.score(make_item(LITTLE_BIG.replace("rating[", "score["), LITTLE_BIG))
    assert bad_slot.value == 1.0 and bad_slot.detail == "unknown slots 'score'"
    assert metric.score(make_item("", LITTLE_BIG)).value == 0.0


def test_no_mr_in_the_data_violates_the_shipped_ontology():
    metric = OntologyViolations()
    for split in SPLITS:
        for row in read_rows(split):
            assert metric.score(make_item(row["mr"], row["mr"])).value == 0.0, row["mr"]


def test_shipped_ontology_is_the_data_set_copy():
    package = ROOT / "plugins" / "fteval_viggo"
    digest = hashlib.sha256((package / "ontology.json").read_bytes()).hexdigest()
    # The digest of the data set's own file, recorded when it was copied.
    assert f"sha256 `{digest}`" in (package / "PROVENANCE.md").read_text("utf-8")
    ontology = load_ontology()
    assert len(ontology.functions) == 9 and "request_attribute" in ontology.functions
    assert len(ontology.slots) == 14 and "da" not in ontology.slots


def test_entry_points_resolve_to_plugin_classes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    entries = project["project"]["entry-points"]["fteval.plugins"]
    ours = {name: target for name, target in entries.items() if target.startswith("fteval_viggo")}
    assert len(ours) == 6
    for name, target in ours.items():
        module, cls = target.split(":")
        plugin = getattr(import_module(module), cls)
        assert issubclass(plugin, Parser if name.startswith("parser.") else Metric), name
        plugin()
    assert ViggoParser.default_metrics == (
        "char_exact",
        "exact_match",
        "function_accuracy",
        "slot_precision",
        "slot_recall",
        "slot_f1",
        "parse_rate",
    )
