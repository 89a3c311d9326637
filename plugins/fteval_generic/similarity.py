"""Text-similarity metrics for free-form outputs: corpus BLEU and chrF (sacrebleu), ROUGE-L (rouge-score).

BLEU and chrF are defined on a corpus: each example's score stores its sufficient statistics (n-gram
counts, lengths) in ``Score.parts`` and ``aggregate`` sums them and computes the corpus score, so
``fteval compare`` gets the corpus score of every paired resample. ROUGE-L is the mean of the
per-example F-measures, as rouge-score's own aggregation. Values are on a 0-1 scale (sacrebleu's
0-100 score divided by 100).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from fteval.errors import PluginError
from fteval.plugin import Aggregate, Metric, PluginConfig, Score, ScoreItem, nfc

__all__ = ["Bleu", "BleuConfig", "Chrf", "ChrfConfig", "RougeL", "RougeLConfig", "hypothesis_and_references"]

_REFERENCES = Field(
    None,
    description=(
        "Dataset column holding a list of reference texts (multi-reference scoring, e.g. several "
        "sentences for one meaning representation); default: the gold target alone."
    ),
)


def hypothesis_and_references(item: ScoreItem, column: str | None) -> tuple[str, list[str], str | None]:
    """The output text to score (empty when unparsed), the reference texts, and why the output is empty.

    Raises:
        PluginError: ``column`` is not a column of the row, or holds something other than texts.
    """
    why = None
    if not item.pred.ok:
        hyp, why = "", f"parse failure: {item.pred.error}"
    elif isinstance(item.pred.value, str):
        hyp = item.pred.value
    else:
        hyp, why = "", "the parser's value is not text (use the text parser)"
    if column is None:
        gold = item.gold.value if item.gold.ok and isinstance(item.gold.value, str) else item.example.target
        return hyp, [nfc(gold).strip()], why
    if column not in item.example.row:
        raise PluginError(
            f"metrics: references: column {column!r} is not in the eval row {item.example.index} "
            f"(columns: {', '.join(sorted(item.example.row))})"
        )
    value = item.example.row[column]
    refs = [value] if isinstance(value, str) else value
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise PluginError(
            f"metrics: references: column {column!r} of eval row {item.example.index} must be a text or a "
            f"non-empty list of texts, found {type(value).__name__}"
        )
    return hyp, [nfc(r).strip() for r in refs], why


def _require(module: str) -> None:
    """Import ``module`` now, so a missing text extra stops the run before scoring with the command that installs it.

    Raises:
        PluginError: the module is not installed.
    """
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        raise PluginError(
            f"the text metrics (bleu, chrf, rouge_l) need the Python module {module!r}, which is not installed:"
            " pip install 'fteval[text]'"
        ) from None


#: The config of a corpus metric (``BleuConfig``, ``ChrfConfig``).
_CorpusConfig = TypeVar("_CorpusConfig", bound="BleuConfig | ChrfConfig", covariant=True)


class _CorpusMetric(Metric[_CorpusConfig]):
    """A corpus-level sacrebleu metric: per-example sufficient statistics, summed by ``aggregate``."""

    libraries: ClassVar[tuple[str, ...]] = ("sacrebleu",)
    #: Names of the statistics, in sacrebleu's order.
    stat_names: tuple[str, ...]

    def __init__(self, config: _CorpusConfig | None = None) -> None:
        super().__init__(config)
        _require("sacrebleu")
        self._corpus: Any = None
        self._sentence: Any = None
        # id(score) -> (score, row of statistics): compare calls aggregate on thousands of resamples of
        # the same Score objects; the score is kept so that its id is not reused while cached.
        self._rows: dict[int, tuple[Score, list[float]]] = {}

    def _make(self, sentence: bool) -> Any:
        """A sacrebleu metric object (sentence-level when ``sentence``)."""
        raise NotImplementedError

    def _metrics(self) -> tuple[Any, Any]:
        if self._corpus is None:
            self._corpus, self._sentence = self._make(False), self._make(True)
        return self._corpus, self._sentence

    def score(self, item: ScoreItem) -> Score:
        """The example's sentence-level score, with the corpus statistics in ``parts``."""
        corpus, sentence = self._metrics()
        hyp, refs, why = hypothesis_and_references(item, self.config.references)
        stats = [float(x) for x in corpus._extract_corpus_statistics([hyp], [[r] for r in refs])[0]]
        value = 0.0 if why else sentence._compute_score_from_stats(stats).score / 100
        return Score(min(1.0, max(0.0, value)), detail=why, parts=dict(zip(self.stat_names, stats, strict=True)))

    def corpus_value(self, totals: Sequence[float]) -> float:
        """The corpus score (0-1) from summed statistics."""
        corpus, _ = self._metrics()
        return float(corpus._compute_score_from_stats([round(x) for x in totals]).score) / 100

    def _matrix(self, scores: Sequence[Score]) -> Any:
        import numpy as np

        rows = []
        for s in scores:
            hit = self._rows.get(id(s))
            if hit is None or hit[0] is not s:
                hit = (s, [s.parts.get(k, 0.0) for k in self.stat_names])
                self._rows[id(s)] = hit
            rows.append(hit[1])
        return np.asarray(rows, dtype=float).reshape(len(rows), len(self.stat_names))

    def aggregate(self, scores: Sequence[Score], seed: int = 0) -> Aggregate:
        """The corpus score from the summed statistics, with an example-level bootstrap CI."""
        from fteval.analysis.stats import bootstrap_interval

        n = len(scores)
        if n == 0:
            return Aggregate(0.0, 0.0, 1.0, 0, "none")
        matrix = self._matrix(scores)
        statistic: Callable[[Any], float] = lambda idx: self.corpus_value(matrix[idx].sum(axis=0))  # noqa: E731
        low, high = bootstrap_interval(n, statistic, seed=seed)
        return Aggregate(self.corpus_value(matrix.sum(axis=0)), low, high, n, "bootstrap-corpus")

    def close(self) -> None:
        """Forget the cached statistics rows."""
        self._rows.clear()


class BleuConfig(PluginConfig):
    """Options of the ``bleu`` metric (sacrebleu's corpus BLEU)."""

    tokenize: Literal["13a", "intl", "char", "none", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200"] = Field(
        "13a", description="sacrebleu tokenizer (13a: the WMT default; intl: Unicode punctuation; char: characters)."
    )
    lowercase: bool = Field(False, description="Compare lower-cased text.")
    references: str | None = _REFERENCES


class Bleu(_CorpusMetric[BleuConfig]):
    """Corpus BLEU (sacrebleu, exp smoothing) over 4-grams; per example, smoothed sentence BLEU."""

    Config = BleuConfig
    stat_names = ("sys_len", "ref_len", "correct_1", "correct_2", "correct_3", "correct_4") + (
        "total_1",
        "total_2",
        "total_3",
        "total_4",
    )

    def _make(self, sentence: bool) -> Any:
        from sacrebleu.metrics.bleu import BLEU

        config = self.config
        return BLEU(tokenize=config.tokenize, lowercase=config.lowercase, effective_order=sentence)


class ChrfConfig(PluginConfig):
    """Options of the ``chrf`` metric (sacrebleu's corpus chrF; word_order 2 is chrF++)."""

    char_order: int = Field(6, ge=1, le=10, description="Longest character n-gram.")
    word_order: int = Field(0, ge=0, le=4, description="Longest word n-gram (2 gives chrF++).")
    beta: int = Field(2, ge=1, description="Weight of recall against precision.")
    lowercase: bool = Field(False, description="Compare lower-cased text.")
    references: str | None = _REFERENCES


class Chrf(_CorpusMetric[ChrfConfig]):
    """Corpus chrF (sacrebleu): character n-gram F-score from statistics summed over the corpus."""

    Config = ChrfConfig

    def __init__(self, config: ChrfConfig | None = None) -> None:
        super().__init__(config)
        orders = [f"char{n}" for n in range(1, self.config.char_order + 1)]
        orders += [f"word{n}" for n in range(1, self.config.word_order + 1)]
        self.stat_names = tuple(f"{o}_{k}" for o in orders for k in ("hyp", "ref", "match"))

    def _make(self, sentence: bool) -> Any:
        from sacrebleu.metrics.chrf import CHRF

        config = self.config
        return CHRF(
            char_order=config.char_order, word_order=config.word_order, beta=config.beta, lowercase=config.lowercase
        )


class RougeLConfig(PluginConfig):
    """Options of the ``rouge_l`` metric (rouge-score's ROUGE-L)."""

    use_stemmer: bool = Field(False, description="Porter-stem words before matching.")
    references: str | None = _REFERENCES


class RougeL(Metric[RougeLConfig]):
    """ROUGE-L F-measure per example (the best over the references); aggregate: mean, bootstrap CI.

    rouge-score's tokenizer lower-cases and keeps only ``[a-z0-9]`` words: text in other scripts
    scores 0 (use ``chrf`` there).
    """

    Config = RougeLConfig
    libraries: ClassVar[tuple[str, ...]] = ("rouge-score",)

    def __init__(self, config: RougeLConfig | None = None) -> None:
        super().__init__(config)
        _require("rouge_score")
        self._scorer: Any = None

    def score(self, item: ScoreItem) -> Score:
        """ROUGE-L F-measure of the output against the best-matching reference."""
        config = self.config
        if self._scorer is None:
            from rouge_score.rouge_scorer import RougeScorer

            self._scorer = RougeScorer(["rougeL"], use_stemmer=config.use_stemmer)
        hyp, refs, why = hypothesis_and_references(item, config.references)
        if why:
            return Score(0.0, detail=why)
        result = self._scorer.score_multi(refs, hyp)["rougeL"]
        return Score(float(result.fmeasure), parts={"precision": result.precision, "recall": result.recall})
