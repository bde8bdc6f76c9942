"""The worst-class intervals and the class-stratified bootstrap against cases with closed-form
answers (fairat.reporting.bootstrap; their coverage is tests/test_interval_coverage.py's)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import squeeze
from scipy import stats as st

from fairat.reporting.bootstrap import (
    bootstrap_tables,
    class_bootstrap,
    clopper_pearson,
    gap_interval,
    generator,
    seed_class_bootstrap,
    seed_class_interval,
    seed_worst_interval,
    sidak,
    statistics,
    worst_frequency,
    worst_interval,
)
from fairat.reporting.classwise import CLASSWISE_COLUMNS
from fairat.reporting.summary import summary_table
from fairat.reporting.summary_text import summary_markdown


def classwise(accuracies: dict[int, list[float]], n: int, attack: str = "pgd20") -> pd.DataFrame:
    """classwise.csv rows of one run: ``{seed: per-class accuracies}``, n test samples a class."""
    rows = [
        {
            "dataset": "d",
            "model": "m",
            "run": "trades",
            "method": "trades",
            "eps": "8/255",
            "seed": seed,
            "checkpoint": "last",
            "attack": attack,
            "class": str(c),
            "accuracy": a,
            "n": n,
        }
        for seed, accs in accuracies.items()
        for c, a in enumerate(accs)
    ]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def test_one_class_has_the_binomial_standard_error():
    acc = class_bootstrap(np.array([30, 80]), np.array([100, 400]), 20_000, generator(1))
    assert acc.shape == (20_000, 2)
    for column, p, n in ((0, 0.3, 100), (1, 0.2, 400)):
        assert acc[:, column].mean() == pytest.approx(p, abs=0.002)
        assert acc[:, column].std() == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.03)
    # resampling within each class keeps the classes independent
    assert abs(np.corrcoef(acc.T)[0, 1]) < 0.03


def exact_ci(k: int, n: int, confidence: float) -> tuple[float, float]:
    """scipy's two-sided Clopper-Pearson interval, an independent implementation."""
    ci = st.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return ci.low, ci.high


def test_one_class_far_below_the_rest_is_the_worst_with_its_exact_binomial_bounds():
    n, p = 200, 0.3
    table, frequency = bootstrap_tables(classwise({0: [p] + [0.9] * 9}, n), samples=4000)
    worst = table[table["statistic"] == "worst"].iloc[0]
    # lower end: that class's one-sided 97.5 % Clopper-Pearson bound (the two-sided 95 % one's)
    # with no adjustment for the 10 classes; upper end: its one-sided bound at the Sidak level
    # 0.975^(1/10), the upper end of a two-sided interval at confidence 1 - 2 (1 - 0.975^0.1)
    lo = exact_ci(60, n, 0.95)[0]
    hi = exact_ci(60, n, 1 - 2 * (1 - 0.975**0.1))[1]
    assert worst["estimate"] == pytest.approx(p)
    assert worst["ci95_lo"] == pytest.approx(lo, rel=1e-9)
    assert worst["ci95_hi"] == pytest.approx(hi, rel=1e-9)
    assert worst["interval"] == "Clopper-Pearson, Sidak upper"
    assert table.set_index("statistic").loc["average", "interval"] == "percentile bootstrap"
    assert worst["se"] == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.05)
    assert worst["replicates"] == 4000
    # the average over 10 independent classes: SD sqrt(sum p_c (1 - p_c) / n) / 10
    average = table[table["statistic"] == "average"].iloc[0]
    assert average["estimate"] == pytest.approx(0.84)
    expected = math.sqrt((p * (1 - p) + 9 * 0.9 * 0.1) / n) / 10
    assert average["se"] == pytest.approx(expected, rel=0.05)
    gap = table[table["statistic"] == "gap"].iloc[0]
    assert gap["estimate"] == pytest.approx(0.6) and gap["ci95_lo"] < 0.6 < gap["ci95_hi"]
    # the gap from simultaneous two-sided intervals (Sidak over 10 classes at 95 %)
    confidence = 0.95 ** (1 / 10)
    low, high = exact_ci(60, n, confidence), exact_ci(180, n, confidence)
    assert gap["ci95_lo"] == pytest.approx(high[0] - low[1], rel=1e-9)
    assert gap["ci95_hi"] == pytest.approx(high[1] - low[0], rel=1e-9)
    freq = frequency.set_index("class")["frequency"]
    assert freq["0"] > 0.999 and freq.sum() == pytest.approx(1.0)


def test_two_identical_lowest_classes_are_each_worst_half_the_time_and_the_minimum_is_low():
    n, p = 100, 0.5
    acc = class_bootstrap(np.array([50, 50, 95, 95]), np.full(4, n), 20_000, generator(2))
    freq = worst_frequency(acc)
    assert freq[0] == pytest.approx(0.5, abs=0.02) and freq[1] == pytest.approx(0.5, abs=0.02)
    assert freq[2:].max() < 1e-3 and freq.sum() == pytest.approx(1.0)
    # E[min(X, Y)] = p - sigma / sqrt(pi) for two independent normals of SD sigma: the minimum
    # of two equal classes is biased low by sigma / sqrt(pi)
    sigma = math.sqrt(p * (1 - p) / n)
    assert statistics(acc)["worst"].mean() == pytest.approx(p - sigma / math.sqrt(np.pi), abs=3e-3)


def test_ties_share_their_replicate_and_empty_classes_are_left_out():
    acc = class_bootstrap(np.array([10, 10, 10, 0]), np.array([10, 10, 10, 0]), 50, generator(3))
    assert np.isnan(acc[:, 3]).all() and (acc[:, :3] == 1).all()
    freq = worst_frequency(acc)
    assert np.allclose(freq[:3], 1 / 3) and np.isnan(freq[3])
    assert (statistics(acc)["gap"] == 0).all()
    with pytest.raises(ValueError):
        class_bootstrap(np.array([11]), np.array([10]))


def test_a_row_does_not_change_when_other_runs_are_added():
    one = classwise({0: [0.4, 0.6, 0.7]}, 50)
    other = classwise({0: [0.2, 0.3, 0.9], 1: [0.5, 0.5, 0.5]}, 50).assign(run="dafa")
    alone, _ = bootstrap_tables(one, samples=200)
    both, _ = bootstrap_tables(pd.concat([other, one]), samples=200)
    pd.testing.assert_frame_equal(alone, both[both["run"] == "trades"].reset_index(drop=True))
    assert not bootstrap_tables(one, samples=200, seed=1)[0].equals(alone)


def test_the_superseded_two_level_bootstrap_has_the_variance_of_seeds_plus_samples():
    # two seeds, each with one class far below the others: worst-class accuracy 0.3 and 0.4
    n, worst = 400, np.array([0.3, 0.4])
    correct = np.array([[120] + [380] * 9, [160] + [380] * 9])
    draws = seed_class_bootstrap(correct, np.full_like(correct, n), 40_000, generator(4))
    # law of total variance: (population variance over seeds + mean sampling variance) / S
    var = (worst.var() + (worst * (1 - worst) / n).mean()) / 2
    assert draws.mean() == pytest.approx(0.35, abs=1e-3)
    assert draws.std() == pytest.approx(math.sqrt(var), rel=0.03)


def test_clopper_pearson_matches_scipy_and_the_edges():
    k, n = np.array([0, 3, 50, 100]), np.array([100, 100, 100, 100])
    lo, hi = clopper_pearson(k, n, 0.025, 0.025)
    for i in range(4):
        assert (lo[i], hi[i]) == pytest.approx(exact_ci(int(k[i]), 100, 0.95), rel=1e-9)
    assert lo[0] == 0 and hi[3] == 1
    lo, hi = clopper_pearson(np.array([0]), np.array([0]), 0.025, 0.025)
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    with pytest.raises(ValueError):
        clopper_pearson(np.array([11]), np.array([10]), 0.025, 0.025)
    # Sidak: K independent events of probability 1 - per-class tail hold together at 1 - tail
    assert (1 - sidak(0.025, 10)) ** 10 == pytest.approx(0.975)


def test_the_worst_interval_bounds_the_minimum_whichever_class_it_is():
    n = np.full(4, 100)
    # tied classes: the lower end is the lowest class's unadjusted bound, the upper end the
    # lowest of the Sidak-adjusted upper bounds, and the estimate lies between them
    lo, hi = worst_interval(np.array([50, 52, 90, 95]), n)
    assert lo == pytest.approx(exact_ci(50, 100, 0.95)[0], rel=1e-9)
    assert hi == pytest.approx(exact_ci(50, 100, 1 - 2 * (1 - 0.975**0.25))[1], rel=1e-9)
    assert lo < 0.5 < hi
    # a class without test samples is left out, K counts the evaluated classes only
    lo3, hi3 = worst_interval(np.array([50, 52, 0, 95]), np.array([100, 100, 0, 100]))
    assert hi3 == pytest.approx(exact_ci(50, 100, 1 - 2 * (1 - 0.975 ** (1 / 3)))[1], rel=1e-9)
    assert lo3 == pytest.approx(lo)
    assert np.isnan(worst_interval(np.array([0, 0]), np.array([0, 0]))).all()
    # every class right or every class wrong: [one-sided bound, 1] and [0, Sidak bound]
    lo, hi = worst_interval(np.array([100, 100]), np.array([100, 100]))
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 100))
    lo, hi = worst_interval(np.array([0, 100]), np.array([100, 100]))
    assert lo == 0 and hi == pytest.approx(1 - sidak(0.025, 2) ** (1 / 100))
    # leading axes are separate models
    many = worst_interval(np.array([[50, 52, 90, 95], [10, 52, 90, 95]]), np.full((2, 4), 100))
    assert many[0][0] == pytest.approx(exact_ci(50, 100, 0.95)[0], rel=1e-9)
    assert many[0][1] == pytest.approx(exact_ci(10, 100, 0.95)[0], rel=1e-9)


def test_gap_interval_is_never_negative():
    lo, hi = gap_interval(np.array([50, 51]), np.array([100, 100]))
    assert lo == 0 and 0.01 < hi < 0.5


def test_the_two_level_interval_is_a_t_bound_over_seeds_of_each_seeds_bounds():
    n = 400
    correct = np.array([[120] + [380] * 9, [160] + [380] * 9, [140] + [380] * 9])
    total = np.full_like(correct, n)
    lo_s, hi_s = worst_interval(correct, total)  # each seed's bounds
    t = st.t.ppf(0.975, 2)
    lo, hi = seed_worst_interval(correct, total)
    assert lo == pytest.approx(lo_s.mean() - t * lo_s.std(ddof=1) / math.sqrt(3), rel=1e-9)
    assert hi == pytest.approx(hi_s.mean() + t * hi_s.std(ddof=1) / math.sqrt(3), rel=1e-9)
    assert lo < correct[:, 0].mean() / n < hi
    # a seed without evaluated samples is left out; one seed left: its own interval
    missing = np.vstack([correct[:2], np.zeros((1, 10), dtype=int)])
    two = seed_worst_interval(missing, np.vstack([total[:2], np.zeros((1, 10), dtype=int)]))
    t1 = st.t.ppf(0.975, 1)
    spread = t1 * hi_s[:2].std(ddof=1) / math.sqrt(2)
    assert two[1] == pytest.approx(min(1.0, hi_s[:2].mean() + spread))
    assert two[0] == max(0.0, lo_s[:2].mean() - t1 * lo_s[:2].std(ddof=1) / math.sqrt(2)) == 0
    assert seed_class_interval(correct[:1], total[:1]) == pytest.approx((lo_s[0], hi_s[0]))
    assert np.isnan(seed_class_interval(np.zeros((2, 3), int), np.zeros((2, 3), int))).all()
    # identical seeds: no spread, the seeds' common interval; the bounds stay within [0, 1]
    same = np.repeat(correct[:1], 3, axis=0)
    assert seed_class_interval(same, total) == pytest.approx((lo_s[0], hi_s[0]))
    wide = seed_class_interval(np.array([[0, 400], [400, 400]]), np.full((2, 2), n))
    assert wide == (0.0, 1.0)


def test_summary_has_the_two_level_interval_and_the_markdown_names_both():
    table = classwise({0: [0.3] + [0.9] * 9, 1: [0.4] + [0.9] * 9}, 400)
    table = pd.concat([table, table.assign(attack="clean", accuracy=table["accuracy"] + 0.05)])
    summary = summary_table(table)
    row = summary[summary["attack"] == "pgd20"].iloc[0]
    assert row["worst_mean"] == pytest.approx(0.35)
    correct = np.array([[120] + [360] * 9, [160] + [360] * 9])
    expected = seed_class_interval(correct, np.full_like(correct, 400))
    assert (row["worst_ci95_lo"], row["worst_ci95_hi"]) == pytest.approx(expected)
    assert row["worst_ci95_lo"] < 0.35 < row["worst_ci95_hi"]
    columns = list(summary.columns)
    assert columns.index("worst_ci95_lo") == columns.index("worst_ci95") + 1
    assert summary_table(table).equals(summary)  # a fixed seed
    skipped = summary_table(table, intervals=False)
    assert skipped["worst_ci95_lo"].isna().all() and skipped["worst_ci95_hi"].isna().all()
    md = squeeze(summary_markdown(summary))
    assert "| robust worst | robust worst [95% seeds+samples] |" in md
    interval = f"[{row['worst_ci95_lo'] * 100:.2f}, {row['worst_ci95_hi'] * 100:.2f}]"
    assert f"| 35.00 ± {row['worst_ci95'] * 100:.2f} | {interval} |" in md
    assert "`worst_ci95_lo`, `worst_ci95_hi`" in md and "t-interval over seeds" in md
    assert "Clopper-Pearson" in md and "expected worst-class accuracy" in md
