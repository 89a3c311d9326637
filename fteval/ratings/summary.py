"""What the report shows of human ratings: rated scores with CIs, inter-rater agreement, paired differences.

Per sheet: each run's mean rating (an output's rating is the mean over its raters; bootstrap CI over
outputs), Krippendorff's alpha between raters (the ``krippendorff`` package; ordinal for a scale of
three or more levels, nominal for pass/fail; bootstrap CI over rated outputs) and, for a sheet of
two runs, the paired difference of their mean ratings on the same examples.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from fteval.plugin import Aggregate
from fteval.ratings.sheet import RatingSheet
from fteval.ratings.storage import Rating, sheet_ratings, sheets_of_runs
from fteval.storage.store import Store

__all__ = ["Agreement", "PairedRating", "RatedRun", "SheetSummary", "krippendorff_alpha", "rating_summaries"]

ALPHA_SAMPLES = 1000


@dataclass(frozen=True)
class RatedRun:
    """One run's rated score on a sheet: mean rating with a 95% CI, outputs rated and ratings."""

    run_id: str
    score: Aggregate
    n_ratings: int


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha between raters, with a bootstrap CI over the outputs rated by two or more."""

    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    level: str
    raters: int
    units: int
    note: str = ""


@dataclass(frozen=True)
class PairedRating:
    """Run B's mean rating minus run A's on the examples both were rated on, with a paired bootstrap CI."""

    a: str
    b: str
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    b_better: int
    ties: int
    a_better: int


@dataclass(frozen=True)
class JudgeAgreement:
    """Agreement of a ``judge`` metric's ratings with the human raters on the same outputs."""

    metric: str
    agreement: Agreement


@dataclass(frozen=True)
class SheetSummary:
    """Everything about one rating sheet's ratings."""

    sheet: RatingSheet
    raters: tuple[str, ...]
    runs: list[RatedRun]
    agreement: Agreement
    paired: PairedRating | None
    judges: list[JudgeAgreement] = field(default_factory=list)


def krippendorff_alpha(
    units: dict[tuple[str, int], dict[str, float]], raters: Sequence[str], scale: tuple[int, int], seed: int = 0
) -> Agreement:
    """Krippendorff's alpha of ``units`` ((run, idx) -> rater -> rating) with a bootstrap CI over units."""
    import numpy as np

    level: Literal["ordinal", "nominal"] = "ordinal" if scale[1] - scale[0] >= 2 else "nominal"
    shared = [u for u, by in units.items() if len(by) >= 2]
    if len(raters) < 2 or not shared:
        why = "needs two raters" if len(raters) < 2 else "no output was rated by two raters"
        return Agreement(None, None, None, level, len(raters), len(shared), why)
    try:
        import krippendorff
    except ImportError:
        return Agreement(
            None, None, None, level, len(raters), len(shared), "pip install 'fteval[ratings]' for Krippendorff's alpha"
        )
    data = np.array([[units[u].get(r, np.nan) for u in shared] for r in raters], dtype=float)
    domain = list(range(scale[0], scale[1] + 1))

    def alpha(matrix: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 when every rating is the same
            try:
                return float(krippendorff.alpha(matrix, value_domain=domain, level_of_measurement=level))
            except ValueError:
                return math.nan

    value = alpha(data)
    if math.isnan(value):
        return Agreement(None, None, None, level, len(raters), len(shared), "undefined: every rating is the same")
    rng = np.random.default_rng(seed)
    boot = [alpha(data[:, rng.integers(0, len(shared), len(shared))]) for _ in range(ALPHA_SAMPLES)]
    finite = [b for b in boot if not math.isnan(b)]
    low, high = (float(x) for x in np.percentile(finite, [2.5, 97.5])) if finite else (math.nan, math.nan)
    return Agreement(value, low, high, level, len(raters), len(shared))


def _paired(sheet: RatingSheet, per_output: dict[tuple[str, int], float], seed: int) -> PairedRating | None:
    import numpy as np

    from fteval.analysis.paired import paired_mean_bootstrap

    if len(sheet.runs) != 2:
        return None
    a, b = sheet.runs
    both = sorted({i for r, i in per_output if r == a} & {i for r, i in per_output if r == b})
    if not both:
        return None
    diffs = np.array([per_output[(b, i)] - per_output[(a, i)] for i in both])
    boot = paired_mean_bootstrap(diffs, seed=seed)
    return PairedRating(
        a,
        b,
        float(diffs.mean()),
        boot.ci_low,
        boot.ci_high,
        boot.p_value,
        len(both),
        int((diffs > 0).sum()),
        int((diffs == 0).sum()),
        int((diffs < 0).sum()),
    )


def _mean(values: list[float], scale: tuple[int, int], seed: int) -> Aggregate:
    """Mean rating with a 95% CI: Wilson on a pass/fail scale, else a bootstrap over outputs."""
    import numpy as np

    from fteval.analysis.stats import bootstrap_interval, mean_with_ci

    if scale == (0, 1) or not values:
        return mean_with_ci(values, seed=seed)
    arr = np.asarray(values, dtype=float)
    low, high = bootstrap_interval(len(arr), lambda idx: float(arr[idx].mean()), seed=seed)
    return Aggregate(float(arr.mean()), low, high, len(arr), "bootstrap")


def summarise_sheet(store: Store, sheet: RatingSheet, seed: int = 0) -> SheetSummary:
    """Rated scores, agreement and the paired difference of one sheet's ratings."""
    ratings: list[Rating] = sheet_ratings(store, sheet.id)
    units: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for r in ratings:
        units[(r.run_id, r.idx)][r.rater] = r.rating
    per_output = {u: sum(by.values()) / len(by) for u, by in units.items()}
    runs = []
    for run_id in sheet.runs:
        values = [v for (r, _), v in sorted(per_output.items()) if r == run_id]
        n_ratings = sum(len(by) for (r, _), by in units.items() if r == run_id)
        runs.append(RatedRun(run_id, _mean(values, (sheet.scale_min, sheet.scale_max), seed), n_ratings))
    raters = tuple(sorted({r.rater for r in ratings}))
    scale = (sheet.scale_min, sheet.scale_max)
    agreement = krippendorff_alpha(units, raters, scale, seed=seed)
    judges = _judge_agreement(store, sheet, units, raters, seed)
    return SheetSummary(sheet, raters, runs, agreement, _paired(sheet, per_output, seed), judges)


def _judge_agreement(
    store: Store, sheet: RatingSheet, units: dict[tuple[str, int], dict[str, float]], raters: tuple[str, ...], seed: int
) -> list[JudgeAgreement]:
    """Krippendorff's alpha between each judge metric (as one more coder) and the human raters."""
    scale = (sheet.scale_min, sheet.scale_max)
    judged: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
    scales: dict[str, tuple[int, int]] = {}
    for run_id in sheet.runs:
        run = store.get_run(run_id)
        for name in run.config.get("judges") or {}:
            options = (run.config.get("metrics") or {}).get(name) or {}
            low, high = options.get("scale") or (1, 5)
            scales[name] = (int(low), int(high))
            for idx, score in store.scores(run_id).get(name, {}).items():
                if "rating" in score.parts and (run_id, idx) in units:
                    judged[name][(run_id, idx)] = score.parts["rating"]
    out = []
    for name, ratings in sorted(judged.items()):
        if scales[name] != scale:
            note = f"the judge rates on {scales[name][0]}-{scales[name][1]}, the sheet on {scale[0]}-{scale[1]}"
            out.append(JudgeAgreement(name, Agreement(None, None, None, "ordinal", len(raters) + 1, 0, note)))
            continue
        coder = f"judge:{name}"
        merged = {u: {**units[u], coder: value} for u, value in ratings.items()}
        out.append(JudgeAgreement(name, krippendorff_alpha(merged, (*raters, coder), scale, seed=seed)))
    return out


def rating_summaries(store: Store, run_ids: Sequence[str]) -> list[SheetSummary]:
    """Summaries of every rated sheet that rates any of these runs."""
    return [summarise_sheet(store, sheet) for sheet in sheets_of_runs(store, run_ids)]
