"""Statistics over runs: DAFA's rho, seed means with confidence intervals, paired comparisons.

METHODS.md section 9. ``rho`` follows Lee et al. (DAFA, ICLR 2024): the relative change of the
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
    """Summary of one quantity over seeds; std and ci95 are NaN with fewer than two seeds."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return SeedSummary(0, math.nan, math.nan, math.nan)
    if n == 1:
        return SeedSummary(1, float(v[0]), math.nan, math.nan)
    std = float(v.std(ddof=1))
    half = float(st.t.ppf(0.975, df=n - 1) * std / math.sqrt(n))
    return SeedSummary(n, float(v.mean()), std, half)


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
    """Compare per-seed values ``{seed: value}`` of a method against a baseline on shared seeds."""
    seeds = sorted(set(method) & set(baseline))
    diffs = np.array([method[s] - baseline[s] for s in seeds], dtype=np.float64)
    n = len(diffs)
    if n == 0:
        return PairedComparison(0, math.nan, math.nan, math.nan, math.nan)
    summary = seed_summary(diffs)
    if n < 2 or summary.std == 0:
        return PairedComparison(n, summary.mean, summary.ci95, math.nan, math.nan)
    t = summary.mean / (summary.std / math.sqrt(n))
    p = float(2 * st.t.sf(abs(t), df=n - 1))
    return PairedComparison(n, summary.mean, summary.ci95, float(t), p)
