"""Paired statistics for comparing two runs on the same examples: bootstrap, McNemar, power.

Everything here is a pure function of per-example numbers, so it can be checked against hand
computations; ``fteval.analysis.compare`` feeds it the scores of two runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from fteval.analysis.stats import BOOTSTRAP_SAMPLES

__all__ = [
    "BootstrapResult",
    "connor_n",
    "mcnemar_exact",
    "mcnemar_floor",
    "mde_binary",
    "mde_normal",
    "n_for_difference",
    "paired_bootstrap",
    "paired_mean_bootstrap",
    "z",
]

# Rows of resample indexes drawn at once: bounds memory at CHUNK x n integers.
_CHUNK = 250


@dataclass(frozen=True)
class BootstrapResult:
    """A paired bootstrap of a difference: percentile CI, standard error and two-sided p-value."""

    ci_low: float
    ci_high: float
    se: float
    p_value: float


def z(q: float) -> float:
    """The standard normal quantile at ``q``."""
    return NormalDist().inv_cdf(q)


def _summarise(diffs: np.ndarray, level: float = 0.95) -> BootstrapResult:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    # Two-sided percentile-bootstrap p-value of "difference = 0": twice the smaller tail mass at 0.
    p = min(1.0, 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
    return BootstrapResult(float(low), float(high), float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0, p)


def _index_blocks(n: int, seed: int, samples: int) -> Iterator[np.ndarray]:
    """Resample index matrices, ``_CHUNK`` rows at a time, from one seeded generator."""
    rng = np.random.default_rng(seed)
    for start in range(0, samples, _CHUNK):
        yield rng.integers(0, n, size=(min(_CHUNK, samples - start), n))


def paired_bootstrap(
    n: int,
    difference: Callable[[np.ndarray], float],
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
) -> BootstrapResult:
    """Paired bootstrap of ``difference(indexes)``, a statistic of run B minus run A on the same resample.

    Both runs are resampled with the same example indexes, so the correlation between them (the
    same hard examples) is kept; that is what makes the paired interval narrower than two separate ones.

    Args:
        n: Number of examples.
        difference: Maps an index array (a resample) to B's statistic minus A's on those examples.
        seed: Seed of the resampling.
        samples: Number of resamples.

    Returns:
        The 95% percentile interval, the bootstrap standard error and a two-sided p-value.
    """
    if n == 0:
        return BootstrapResult(0.0, 0.0, 0.0, 1.0)
    diffs = np.array([difference(idx) for block in _index_blocks(n, seed, samples) for idx in block])
    return _summarise(diffs)


def paired_mean_bootstrap(diffs: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> BootstrapResult:
    """``paired_bootstrap`` of the mean of per-example differences, vectorised (same resamples)."""
    n = len(diffs)
    if n == 0:
        return BootstrapResult(0.0, 0.0, 0.0, 1.0)
    means = np.concatenate([diffs[block].mean(axis=1) for block in _index_blocks(n, seed, samples)])
    return _summarise(means)


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact two-sided p-value for paired 0/1 outcomes.

    Only discordant pairs carry information: ``b`` examples right in A and wrong in B, ``c`` the
    reverse. Under "no difference" each discordant pair goes either way with probability 1/2, so
    p = min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2), computed in exact integers.
    """
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    term, tail = 1, 1  # C(n, 0)
    for i in range(1, k + 1):
        term = term * (n - i + 1) // i
        tail += term
    return float(min(1.0, 2 * tail / 2**n))


def mcnemar_floor(alpha: float) -> int:
    """The fewest discordant pairs, all in one direction, that McNemar's exact test calls significant (p < alpha)."""
    k = 1
    while mcnemar_exact(k, 0) >= alpha:
        k += 1
    return k


def connor_n(difference: float, discordance: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Examples needed to detect ``difference`` between paired 0/1 outcomes (Connor 1987, McNemar).

    n = (z_{1-alpha/2} sqrt(p_d) + z_{power} sqrt(p_d - d^2))^2 / d^2, with p_d the share of
    examples on which the two models disagree. None when no n can reach it (p_d < d^2, or d = 0).
    """
    d = abs(difference)
    if d == 0 or discordance < d * d or discordance <= 0:
        return None
    root = z(1 - alpha / 2) * math.sqrt(discordance) + z(power) * math.sqrt(discordance - d * d)
    return math.ceil(root * root / (d * d))


def mde_binary(n: int, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Minimum detectable difference of paired 0/1 outcomes at this n, discordance, alpha and power.

    Solves Connor's formula (see ``connor_n``) for d by bisection, and never returns less than
    ``mcnemar_floor(alpha) / n``: below that no split of the discordant pairs can be significant.
    With no discordance observed, only that floor is known. None when n is 0.
    """
    if n == 0:
        return None
    floor = mcnemar_floor(alpha) / n
    if discordance <= 0:
        return min(1.0, floor)
    low, high = 0.0, math.sqrt(discordance)
    for _ in range(60):
        mid = (low + high) / 2
        needed = connor_n(mid, discordance, alpha, power)
        low, high = (mid, high) if needed is None or needed > n else (low, mid)
    return min(1.0, max(high, floor))


def mde_normal(se: float, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Minimum detectable difference from a standard error: (z_{1-alpha/2} + z_{power}) * se; None if se is 0."""
    return (z(1 - alpha / 2) + z(power)) * se if se > 0 else None


def n_for_difference(difference: float, sigma: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Examples needed to detect a mean difference when per-example differences have SD ``sigma``.

    n = ((z_{1-alpha/2} + z_{power}) * sigma / d)^2; None when sigma or d is 0.
    """
    if difference == 0 or sigma <= 0:
        return None
    return math.ceil(((z(1 - alpha / 2) + z(power)) * sigma / abs(difference)) ** 2)
