"""Confidence intervals: Wilson against published values, bootstrap behaviour, mean and ratio aggregates."""

from __future__ import annotations

import numpy as np
import pytest

from fteval.analysis.stats import bootstrap_interval, mean_with_ci, ratio_with_ci, wilson_interval

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # 95% Wilson intervals worked out by hand from the closed form (8/10 and 50/100 are textbook cases).
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (8, 10, 0.4902, 0.9433),
        (50, 100, 0.4038, 0.5962),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_known_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_empty_is_the_whole_range() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_contains_the_proportion_and_narrows_with_n() -> None:
    widths = []
    for n in (10, 100, 1000):
        low, high = wilson_interval(0.3 * n, n)
        assert 0.0 <= low < 0.3 < high <= 1.0
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]


def test_wilson_covers_the_true_proportion_about_95_percent() -> None:
    rng = np.random.default_rng(1)
    p, n, trials = 0.3, 50, 4000
    hits = sum(low <= p <= high for low, high in (wilson_interval(k, n) for k in rng.binomial(n, p, size=trials)))
    assert 0.92 <= hits / trials <= 0.98


def test_bootstrap_contains_the_mean_and_is_reproducible() -> None:
    values = np.random.default_rng(0).normal(5.0, 2.0, size=200)
    stat = lambda idx: float(values[idx].mean())
    low, high = bootstrap_interval(len(values), stat, seed=3)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_interval(len(values), stat, seed=3)
    assert (low, high) != bootstrap_interval(len(values), stat, seed=4)
    # The standard error of the mean is 2/sqrt(200) ~ 0.14: the 95% CI is about 0.55 wide.
    assert 0.4 < high - low < 0.7


def test_bootstrap_empty_is_the_whole_range() -> None:
    assert bootstrap_interval(0, lambda idx: 0.0) == (0.0, 1.0)


def test_mean_of_binary_scores_uses_wilson() -> None:
    agg = mean_with_ci([1, 0, 1, 1, 1, 0, 1, 1, 1, 1])
    assert (agg.value, agg.n, agg.method) == (0.8, 10, "wilson")
    assert (agg.ci_low, agg.ci_high) == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_mean_of_graded_scores_uses_bootstrap_around_the_mean() -> None:
    scores = [0.0, 0.5, 1.0, 0.25, 0.75, 1.0, 0.0, 0.5]
    agg = mean_with_ci(scores, seed=1)
    assert (agg.value, agg.n, agg.method) == (pytest.approx(0.5), 8, "bootstrap")
    assert 0.0 <= agg.ci_low < agg.value < agg.ci_high <= 1.0
    assert mean_with_ci(scores, seed=1) == agg


def test_mean_of_constant_scores_has_a_point_interval() -> None:
    agg = mean_with_ci([0.5] * 20)
    assert (agg.value, agg.ci_low, agg.ci_high) == pytest.approx((0.5, 0.5, 0.5))


def test_mean_of_nothing_is_reported_as_unknown() -> None:
    agg = mean_with_ci([])
    assert (agg.value, agg.ci_low, agg.ci_high, agg.n, agg.method) == (0.0, 0.0, 1.0, 0, "none")


def test_ratio_is_micro_averaged_with_a_ci_around_it() -> None:
    num, den = [1, 2, 0, 3, 1, 2], [2, 2, 1, 4, 1, 5]
    agg = ratio_with_ci(num, den, seed=0)
    assert agg.value == pytest.approx(9 / 15)  # not the mean of per-example ratios (~0.55)
    assert (agg.n, agg.method) == (6, "bootstrap")
    assert agg.ci_low <= agg.value <= agg.ci_high
    assert agg.ci_low < agg.ci_high


def test_ratio_with_zero_denominators_is_zero_not_nan() -> None:
    agg = ratio_with_ci([0, 0], [0, 0])
    assert (agg.value, agg.ci_low, agg.ci_high) == (0.0, 0.0, 0.0)
