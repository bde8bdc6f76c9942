"""Statistics over runs: DAFA's rho, seed means with confidence intervals, paired comparisons.

docs/specification.md#rho. ``rho`` follows Lee et al. (DAFA, ICLR 2024): the relative change of the
worst-class accuracy plus the relative change of the average accuracy, against a baseline
(TRADES of the same dataset, model and eps), computed separately for clean and robust accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as st


def rho(avg: float, worst: float, base_avg: float, base_worst: float) -> float:
    """(A_worst - B_worst) / B_worst + (A_avg - B_avg) / B_avg; NaN when a baseline value is 0."""
    if base_avg == 0 or base_worst == 0:
        return math.nan
    return (worst - base_worst) / base_worst + (avg - base_avg) / base_avg


@dataclass(frozen=True)
class SeedSummary:
    """Mean, sample std (ddof 1) and the half-width of the 95 % t-interval over n seeds."""

    n: int
    mean: float
    std: float
    ci95: float


def seed_summary(values: np.ndarray | list[float]) -> SeedSummary:
    """Summary of one quantity over seeds; std and ci95 are NaN with fewer than two seeds. The
    interval is ``scipy.stats.t.interval`` around the mean with the standard error ``sem``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return SeedSummary(0, math.nan, math.nan, math.nan)
    if n == 1:
        return SeedSummary(1, float(v[0]), math.nan, math.nan)
    std = float(v.std(ddof=1))
    if std == 0:
        return SeedSummary(n, float(v.mean()), 0.0, 0.0)
    lo, hi = st.t.interval(0.95, df=n - 1, loc=v.mean(), scale=st.sem(v))
    return SeedSummary(n, float(v.mean()), std, float(hi - lo) / 2)


@dataclass(frozen=True)
class PairedComparison:
    """Method minus baseline over the seeds both have: mean difference, its 95 % CI and a paired
    two-sided t-test (NaN p-value with fewer than two pairs or no spread)."""

    n_pairs: int
    mean_diff: float
    ci95: float
    t: float
    p_value: float


def paired_comparison(method: dict[int, float], baseline: dict[int, float]) -> PairedComparison:
    """Compare per-seed values ``{seed: value}`` of a method against a baseline on shared seeds:
    ``scipy.stats.ttest_rel`` for t and p, :func:`seed_summary` of the differences for the
    interval (the same t-interval ``ttest_rel(...).confidence_interval()`` gives)."""
    seeds = sorted(set(method) & set(baseline))
    diffs = np.array([method[s] - baseline[s] for s in seeds], dtype=np.float64)
    n = len(diffs)
    if n == 0:
        return PairedComparison(0, math.nan, math.nan, math.nan, math.nan)
    summary = seed_summary(diffs)
    if n < 2 or summary.std == 0:
        return PairedComparison(n, summary.mean, summary.ci95, math.nan, math.nan)
    test = st.ttest_rel([method[s] for s in seeds], [baseline[s] for s in seeds])
    return PairedComparison(
        n, summary.mean, summary.ci95, float(test.statistic), float(test.pvalue)
    )
