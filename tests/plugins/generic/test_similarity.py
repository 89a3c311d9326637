"""bleu, chrf and rouge_l: equal to sacrebleu's and rouge-score's own corpus scores, CIs, compare."""

from __future__ import annotations

from pathlib import Path

import pytest

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

from fteval_generic.parsers import TextParser
from fteval_generic.similarity import Bleu, BleuConfig, Chrf, ChrfConfig, RougeL, RougeLConfig
from rating_helpers import d2t_lookup_runs

from fteval.analysis.compare import compare_runs
from fteval.analysis.stats import point_estimates
from fteval.errors import PluginError
from fteval.plugin import Example, Parsed, Prompt, ScoreItem
from fteval.storage.store import Store

# Sentences written for this test.
REFS = [
    "The cat sat quietly on the warm mat.",
    "Rain is expected in the north by Tuesday evening.",
    "She bought three apples and a loaf of bread.",
    "Our train left the station ten minutes late.",
    "The museum opens at nine on weekdays.",
    "He fixed the bicycle chain with an old spoon.",
    "Strong winds closed the bridge for an hour.",
    "The recipe needs two eggs and a cup of flour.",
]
HYPS = [
    "The cat sat on the warm mat.",
    "Rain is expected in the north on Tuesday.",
    "She bought apples and bread.",
    "The train left ten minutes late.",
    "",  # an empty output: fails to parse, still counts its reference
    "He repaired the chain of the bicycle with a spoon.",
    "The bridge was closed by strong winds for one hour.",
    "You need two eggs and one cup of flour for the recipe.",
]
SECOND_REFS = [
    "A cat was sitting on the warm mat.",
    "Tuesday evening will bring rain to the north.",
    "She got three apples and some bread.",
    "The train departed ten minutes behind schedule.",
    "On weekdays the museum opens at nine.",
    "He mended the bike chain using an old spoon.",
    "The bridge was shut for an hour by strong winds.",
    "Two eggs and a cup of flour go into the recipe.",
]


def _items(refs_column: bool = False) -> list[ScoreItem]:
    parser = TextParser()
    items = []
    for i, (hyp, ref) in enumerate(zip(HYPS, REFS, strict=True)):
        row = {"refs": [ref, SECOND_REFS[i]]} if refs_column else {}
        example = Example(i, row, Prompt(None, f"item {i}"), ref)
        items.append(ScoreItem(example, hyp, parser.parse(hyp), parser.parse(ref)))
    return items


def test_bleu_equals_sacrebleu_corpus_bleu() -> None:
    metric = Bleu()
    scores = [metric.score(item) for item in _items()]
    agg = metric.aggregate(scores)
    expected = sacrebleu.corpus_bleu(HYPS, [REFS]).score / 100
    assert agg.value == pytest.approx(expected, abs=1e-12)
    assert 0 < agg.value < 1 and agg.n == len(HYPS) and agg.method == "bootstrap-corpus"
    assert agg.ci_low < agg.value < agg.ci_high
    # per example: sacrebleu's sentence BLEU; the failed parse scores 0 and says why
    assert scores[0].value == pytest.approx(sacrebleu.sentence_bleu(HYPS[0], [REFS[0]]).score / 100)
    assert scores[4].value == 0.0 and "parse failure" in (scores[4].detail or "")
    assert scores[4].parts["ref_len"] > 0 and scores[4].parts["sys_len"] == 0


def test_bleu_options_reach_sacrebleu() -> None:
    metric = Bleu(BleuConfig(tokenize="char", lowercase=True))
    agg = metric.aggregate([metric.score(item) for item in _items()])
    expected = sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="char", lowercase=True).score / 100
    assert agg.value == pytest.approx(expected, abs=1e-12)


def test_chrf_and_chrf_plus_plus_equal_sacrebleu() -> None:
    for config, word_order in ((ChrfConfig(), 0), (ChrfConfig(word_order=2), 2)):
        metric = Chrf(config)
        scores = [metric.score(item) for item in _items()]
        expected = sacrebleu.corpus_chrf(HYPS, [REFS], word_order=word_order).score / 100
        assert metric.aggregate(scores).value == pytest.approx(expected, abs=1e-12)
        assert scores[1].value == pytest.approx(
            sacrebleu.sentence_chrf(HYPS[1], [REFS[1]], word_order=word_order).score / 100
        )


def test_multi_reference_scores_equal_the_libraries() -> None:
    items = _items(refs_column=True)
    bleu, chrf = Bleu(BleuConfig(references="refs")), Chrf(ChrfConfig(references="refs"))
    assert bleu.aggregate([bleu.score(i) for i in items]).value == pytest.approx(
        sacrebleu.corpus_bleu(HYPS, [REFS, SECOND_REFS]).score / 100, abs=1e-12
    )
    assert chrf.aggregate([chrf.score(i) for i in items]).value == pytest.approx(
        sacrebleu.corpus_chrf(HYPS, [REFS, SECOND_REFS]).score / 100, abs=1e-12
    )
    rouge = RougeL(RougeLConfig(references="refs"))
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for item, hyp, a, b in zip(items, HYPS, REFS, SECOND_REFS, strict=True):
        best = max(scorer.score(a, hyp)["rougeL"].fmeasure, scorer.score(b, hyp)["rougeL"].fmeasure)
        assert rouge.score(item).value == pytest.approx(best)


def test_rouge_l_is_the_mean_of_rouge_score_f_measures() -> None:
    metric = RougeL()
    scores = [metric.score(item) for item in _items()]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = [scorer.score(r, h)["rougeL"].fmeasure if h else 0.0 for r, h in zip(REFS, HYPS, strict=True)]
    agg = metric.aggregate(scores)
    assert agg.value == pytest.approx(sum(expected) / len(expected))
    assert agg.method == "bootstrap" and agg.ci_low < agg.value < agg.ci_high


def test_corpus_aggregate_is_not_the_mean_of_sentence_scores() -> None:
    """Corpus BLEU from summed statistics differs from averaging sentence BLEU (why parts are stored)."""
    metric = Bleu()
    scores = [metric.score(item) for item in _items()]
    mean = sum(s.value for s in scores) / len(scores)
    with point_estimates():
        agg = metric.aggregate(scores)
    assert agg.value != pytest.approx(mean, abs=1e-3)
    # on a resample (duplicates included) the value is the library's on the same resampled corpus
    idx = [0, 0, 3, 5, 5, 5, 7, 1]
    with point_estimates():
        resampled = metric.aggregate([scores[i] for i in idx]).value
    expected = sacrebleu.corpus_bleu([HYPS[i] for i in idx], [[REFS[i] for i in idx]]).score / 100
    assert resampled == pytest.approx(expected, abs=1e-12)


def test_missing_references_column_is_a_clear_error() -> None:
    item = _items()[0]
    with pytest.raises(PluginError, match="references: column 'refs' is not in the eval row 0"):
        Bleu(BleuConfig(references="refs")).score(item)
    bad = ScoreItem(Example(3, {"refs": [1, 2]}, item.example.prompt, "x"), "x", Parsed(True, "x"), Parsed(True, "x"))
    with pytest.raises(PluginError, match="must be a text or a non-empty list of texts"):
        Chrf(ChrfConfig(references="refs")).score(bad)


def test_compare_recomputes_the_corpus_score_on_paired_resamples(tmp_path: Path) -> None:
    """Two real runs compared: the difference is the libraries' corpus difference, with a paired CI."""
    db, weak, full = d2t_lookup_runs(tmp_path)
    store, ids = Store(db), [weak, full]
    run_a, run_b = (store.get_run(i) for i in ids)
    result = compare_runs(store, run_a, run_b, samples=300)
    by_name = {m.metric: m for m in result.metrics}
    outs = [[e.output for e in store.examples(i)] for i in ids]
    refs = [e.gold for e in store.examples(ids[0])]
    for name, corpus in (("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf)):
        got = by_name[name]
        expected = (corpus(outs[1], [refs]).score - corpus(outs[0], [refs]).score) / 100
        assert got.method == "aggregate" and got.difference == pytest.approx(expected, abs=1e-9)
        assert got.ci_low < got.difference < got.ci_high and got.p_value < 0.05
    assert by_name["rouge_l"].method == "mean" and by_name["rouge_l"].p_value < 0.05
    aggregates = {a.metric: a for a in store.aggregates(ids[1])}
    assert aggregates["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(outs[1], [refs]).score / 100)
    store.close()


def test_a_missing_text_extra_stops_the_run_with_the_install_command(tmp_path: Path) -> None:
    from fteval_testutil import SPECS, fteval_cli

    blocker = tmp_path / "blocker"
    blocker.mkdir()  # a Python where sacrebleu and rouge-score are not installed: importing them fails
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NotInstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('sacrebleu', 'rouge_score'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _NotInstalled())\n"
    )
    spec = tmp_path / "d2t.yaml"
    spec.write_text(f"extends: {SPECS / 'viggo-d2t.yaml'}\ndataset: {{eval: {{limit: 5}}}}\ntargets: {{tiny: null}}\n")
    out = fteval_cli("run", str(spec), store=tmp_path / "r.db", extra_path=blocker)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.endswith("need the Python module 'sacrebleu', which is not installed: pip install 'fteval[text]'")
