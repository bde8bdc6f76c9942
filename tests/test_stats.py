"""DAFA's rho test vector, confidence intervals and paired comparisons on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from fairat.reporting.stats import paired_comparison, rho, seed_summary

# DAFA's CIFAR-10 table (docs/specification.md#rho): clean avg/worst, robust avg/worst, rho_nat, rho_rob
DAFA_TABLE = {
    "TRADES": (82.04, 65.70, 49.80, 21.31, 0.0, 0.0),
    "FRL": (82.97, 71.94, 44.68, 25.84, 0.11, 0.11),
    "CFA": (79.81, 65.18, 50.78, 27.62, -0.04, 0.32),
    "BAT": (87.16, 74.02, 45.89, 17.82, 0.19, -0.24),
    "WAT": (80.97, 70.57, 46.30, 28.55, 0.06, 0.27),
    "DAFA": (81.63, 67.90, 49.05, 30.53, 0.03, 0.42),
}


@pytest.mark.parametrize("method", list(DAFA_TABLE))
def test_rho_reproduces_dafa_table(method):
    base = DAFA_TABLE["TRADES"]
    c_avg, c_worst, r_avg, r_worst, rho_nat, rho_rob = DAFA_TABLE[method]
    assert round(rho(c_avg, c_worst, base[0], base[1]), 2) == pytest.approx(rho_nat)
    assert round(rho(r_avg, r_worst, base[2], base[3]), 2) == pytest.approx(rho_rob)


def test_rho_with_zero_baseline_is_nan():
    assert math.isnan(rho(0.5, 0.2, 0.5, 0.0))


def test_seed_summary_on_hand_made_numbers():
    s = seed_summary([0.50, 0.60, 0.70])
    assert s.n == 3 and s.mean == pytest.approx(0.6) and s.std == pytest.approx(0.1)
    # t_{0.975, 2} = 4.302652...; half-width = t * 0.1 / sqrt(3)
    assert s.ci95 == pytest.approx(4.302652729749464 * 0.1 / math.sqrt(3))
    one = seed_summary([0.4])
    assert one.n == 1 and one.mean == 0.4 and math.isnan(one.std) and math.isnan(one.ci95)
    assert seed_summary([0.2, float("nan"), 0.4]).n == 2


def test_paired_comparison_on_hand_made_numbers():
    method = {0: 0.30, 1: 0.32, 2: 0.35, 7: 0.9}  # seed 7 has no baseline partner
    base = {0: 0.25, 1: 0.30, 2: 0.30, 3: 0.1}
    c = paired_comparison(method, base)
    diffs = np.array([0.05, 0.02, 0.05])
    assert c.n_pairs == 3
    assert c.mean_diff == pytest.approx(diffs.mean())
    ref = st.ttest_rel([0.30, 0.32, 0.35], [0.25, 0.30, 0.30])
    assert c.t == pytest.approx(ref.statistic) and c.p_value == pytest.approx(ref.pvalue)
    assert c.ci95 == pytest.approx(st.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3))


def test_paired_comparison_without_shared_seeds():
    c = paired_comparison({0: 0.3}, {1: 0.2})
    assert c.n_pairs == 0 and math.isnan(c.mean_diff)
    single = paired_comparison({0: 0.3}, {0: 0.2})
    assert (
        single.n_pairs == 1
        and single.mean_diff == pytest.approx(0.1)
        and math.isnan(single.p_value)
    )
