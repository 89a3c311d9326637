"""Metric aggregates with confidence intervals (Wilson for 0/1 scores, percentile bootstrap otherwise).

A leaf module: ``fteval.plugin`` re-exports ``Aggregate`` from here as part of the plugin contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where a statistic is computed: `validate` never needs it (~90 ms)
    import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 2000
# Set inside ``point_estimates()``: interval helpers skip resampling (see there).
_POINT_ONLY: ContextVar[bool] = ContextVar("fteval_point_only", default=False)


@dataclass(frozen=True)
class Aggregate:
    """A metric over a run: point value, 95% confidence interval, n and the CI method."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    method: str


@contextmanager
def point_estimates() -> Iterator[None]:
    """Inside this block ``bootstrap_interval`` returns (nan, nan) without resampling.

    A paired comparison calls a metric's own ``aggregate`` on thousands of resampled score lists and
    keeps only the point value; the metric's inner bootstrap would cost thousands of times more.
    """
    token = _POINT_ONLY.set(True)
    try:
        yield
    finally:
        _POINT_ONLY.reset(token)


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    n: int,
    statistic: Callable[[np.ndarray], float],
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic(indices)`` over examples resampled with replacement."""
    if n == 0:
        return 0.0, 1.0
    if _POINT_ONLY.get():
        return math.nan, math.nan
    import numpy as np

    rng = np.random.default_rng(seed)
    stats = [statistic(rng.integers(0, n, size=n)) for _ in range(samples)]
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def mean_with_ci(values: Sequence[float], seed: int = 0) -> Aggregate:
    """Mean of per-example scores with a Wilson CI when all are 0/1, else a bootstrap CI."""
    n = len(values)
    if n == 0:
        return Aggregate(value=0.0, ci_low=0.0, ci_high=1.0, n=0, method="none")
    import numpy as np

    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if np.all((arr == 0.0) | (arr == 1.0)):
        low, high = wilson_interval(float(arr.sum()), n)
        return Aggregate(mean, low, high, n, "wilson")
    low, high = bootstrap_interval(n, lambda idx: float(arr[idx].mean()), seed=seed)
    return Aggregate(mean, low, high, n, "bootstrap")


def ratio_with_ci(numerators: Sequence[float], denominators: Sequence[float], seed: int = 0) -> Aggregate:
    """Micro-averaged ratio sum(num)/sum(den) with an example-level bootstrap CI."""
    import numpy as np

    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    n = len(num)

    def ratio(idx: np.ndarray) -> float:
        d = den[idx].sum()
        return float(num[idx].sum() / d) if d else 0.0

    value = ratio(np.arange(n))
    low, high = bootstrap_interval(n, ratio, seed=seed)
    return Aggregate(value, low, high, n, "bootstrap")
