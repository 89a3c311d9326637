"""Paired statistics against hand-computed cases (and scipy as a reference where installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fteval.analysis.paired import (
    connor_n,
    mcnemar_exact,
    mcnemar_floor,
    mde_binary,
    mde_normal,
    n_for_difference,
    paired_bootstrap,
    paired_mean_bootstrap,
)
from fteval.analysis.stats import bootstrap_interval, point_estimates, ratio_with_ci

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),
        (0, 5, 2 / 32),  # all five discordant pairs one way: 2 * (1/2)^5
        (1, 6, 2 * (1 + 7) / 128),  # 2 * (C(7,0) + C(7,1)) / 2^7
        (8, 2, 2 * (1 + 10 + 45) / 1024),  # symmetric in b and c
        (3, 3, 1.0),  # 2 * P(X <= 3 | n=6) = 84/64, capped at 1
        (0, 6, 2 / 64),
    ],
)
def test_mcnemar_exact_matches_hand_computed_values(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=1e-12)


def test_mcnemar_exact_matches_scipy_binomtest() -> None:
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(0, 1), (2, 9), (10, 25), (40, 41), (120, 80), (3, 0), (700, 650)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9)


def test_mcnemar_floor_is_the_fewest_one_sided_flips_that_are_significant() -> None:
    assert mcnemar_floor(0.05) == 6  # 5 flips: p = 0.0625; 6 flips: p = 0.03125
    assert mcnemar_floor(0.01) == 8  # 2/128 = 0.0156 >= 0.01; 2/256 < 0.01


def test_paired_bootstrap_of_two_examples_matches_its_exact_distribution() -> None:
    # Differences [0, 1]: a resample's mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4.
    result = paired_mean_bootstrap(np.array([0.0, 1.0]), seed=0, samples=20000)
    assert (result.ci_low, result.ci_high) == (0.0, 1.0)
    assert result.se == pytest.approx(math.sqrt(0.125), abs=0.01)
    assert result.p_value == pytest.approx(2 * 0.25, abs=0.02)  # twice P(mean <= 0)


def test_paired_bootstrap_of_a_constant_difference_is_that_difference_and_significant() -> None:
    result = paired_mean_bootstrap(np.full(10, -0.5), seed=3)
    assert (result.ci_low, result.ci_high, result.se, result.p_value) == (-0.5, -0.5, 0.0, 0.0)
    same = paired_mean_bootstrap(np.zeros(10), seed=3)
    assert (same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 1.0)


def test_generic_and_vectorised_paired_bootstrap_use_the_same_resamples() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 2, 80).astype(float), rng.integers(0, 2, 80).astype(float)
    generic = paired_bootstrap(80, lambda idx: float(b[idx].mean() - a[idx].mean()), seed=7, samples=600)
    vectorised = paired_mean_bootstrap(b - a, seed=7, samples=600)
    assert [*vars(generic).values()] == pytest.approx([*vars(vectorised).values()])


def test_pairing_narrows_the_interval_when_the_runs_share_hard_examples() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.7).astype(float)
    b = a.copy()
    b[:12] = 1 - b[:12]  # B differs from A on 12 examples only
    paired = paired_mean_bootstrap(b - a, seed=1)
    lo_a, hi_a = bootstrap_interval(400, lambda idx: float(a[idx].mean()), seed=1)
    assert paired.ci_high - paired.ci_low < (hi_a - lo_a) / 2


def test_point_estimates_skip_the_inner_bootstrap_but_keep_the_value() -> None:
    with point_estimates():
        agg = ratio_with_ci([1, 2, 3], [2, 2, 4])
    assert agg.value == pytest.approx(6 / 8) and math.isnan(agg.ci_low) and math.isnan(agg.ci_high)
    assert not math.isnan(ratio_with_ci([1, 2, 3], [2, 2, 4]).ci_low)


def test_connor_n_matches_the_formula_worked_by_hand() -> None:
    # accuracy 0.8 vs 0.78 with independent errors: p_d = 0.8*0.22 + 0.78*0.2 = 0.332
    root = 1.959963984540054 * math.sqrt(0.332) + 0.8416212335729143 * math.sqrt(0.332 - 0.0004)
    assert connor_n(0.02, 0.332) == math.ceil(root**2 / 0.0004) == 6513
    assert connor_n(0.1, 0.005) is None  # the models cannot differ by 0.1 if they disagree on 0.5%


def test_mde_binary_inverts_connor_n_and_respects_the_exact_floor() -> None:
    mde = mde_binary(500, 0.2)
    assert mde is not None and connor_n(mde, 0.2) <= 500 < connor_n(mde * 0.97, 0.2)
    assert mde_binary(300, 0.0) == pytest.approx(6 / 300)  # nothing seen: only the exact-test floor
    assert mde_binary(30, 0.01) == pytest.approx(6 / 30)


def test_normal_mde_and_sample_size_agree() -> None:
    sigma, n = 0.4, 400
    mde = mde_normal(sigma / math.sqrt(n))
    assert mde == pytest.approx((1.959963984540054 + 0.8416212335729143) * 0.02)
    assert n_for_difference(mde, sigma) in (n, n + 1)
    assert mde_normal(0.0) is None and n_for_difference(0.05, 0.0) is None
