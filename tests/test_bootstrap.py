"""The class-stratified bootstrap against cases with closed-form answers (fairat.bootstrap)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import squeeze
from scipy import stats as st

from fairat.bootstrap import (
    bootstrap_tables,
    class_bootstrap,
    generator,
    seed_class_bootstrap,
    seed_class_interval,
    statistics,
    worst_frequency,
)
from fairat.tables import CLASSWISE_COLUMNS, summary_markdown, summary_table


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


def test_one_class_far_below_the_rest_is_the_worst_with_its_binomial_interval():
    n, p = 200, 0.3
    table, frequency = bootstrap_tables(classwise({0: [p] + [0.9] * 9}, n), samples=4000)
    worst = table[table["statistic"] == "worst"].iloc[0]
    lo, hi = st.binom.ppf([0.025, 0.975], n, p) / n  # the binomial's 95 % interval
    assert worst["estimate"] == pytest.approx(p)
    assert worst["ci95_lo"] == pytest.approx(lo, abs=1.01 / n)
    assert worst["ci95_hi"] == pytest.approx(hi, abs=1.01 / n)
    assert worst["se"] == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.05)
    assert worst["replicates"] == 4000
    # the average over 10 independent classes: SD sqrt(sum p_c (1 - p_c) / n) / 10
    average = table[table["statistic"] == "average"].iloc[0]
    assert average["estimate"] == pytest.approx(0.84)
    expected = math.sqrt((p * (1 - p) + 9 * 0.9 * 0.1) / n) / 10
    assert average["se"] == pytest.approx(expected, rel=0.05)
    gap = table[table["statistic"] == "gap"].iloc[0]
    assert gap["estimate"] == pytest.approx(0.6) and gap["ci95_lo"] < 0.6 < gap["ci95_hi"]
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


def test_two_level_bootstrap_has_the_variance_of_seeds_plus_samples():
    # two seeds, each with one class far below the others: worst-class accuracy 0.3 and 0.4
    n, worst = 400, np.array([0.3, 0.4])
    correct = np.array([[120] + [380] * 9, [160] + [380] * 9])
    draws = seed_class_bootstrap(correct, np.full_like(correct, n), 40_000, generator(4))
    # law of total variance: (population variance over seeds + mean sampling variance) / S
    var = (worst.var() + (worst * (1 - worst) / n).mean()) / 2
    assert draws.mean() == pytest.approx(0.35, abs=1e-3)
    assert draws.std() == pytest.approx(math.sqrt(var), rel=0.03)
    # without sampling noise it is the bootstrap over seeds alone
    big = 10**7
    exact = seed_class_bootstrap(correct * big // n, np.full_like(correct, big), 40_000)
    assert exact.std() == pytest.approx(math.sqrt(worst.var() / 2), rel=0.03)
    # one seed: the sample-level interval of that seed's worst class, the binomial's
    lo, hi = seed_class_interval(correct[:1], np.full((1, 10), n), ("k",), 4000)
    assert (lo, hi) == pytest.approx(tuple(st.binom.ppf([0.025, 0.975], n, 0.3) / n), abs=1.01 / n)


def test_summary_has_the_two_level_interval_and_the_markdown_names_both():
    table = classwise({0: [0.3] + [0.9] * 9, 1: [0.4] + [0.9] * 9}, 400)
    table = pd.concat([table, table.assign(attack="clean", accuracy=table["accuracy"] + 0.05)])
    summary = summary_table(table)
    row = summary[summary["attack"] == "pgd20"].iloc[0]
    assert row["worst_mean"] == pytest.approx(0.35)
    assert row["worst_ci95_lo"] < 0.35 < row["worst_ci95_hi"]
    # the t-interval over two seeds is far wider than the bootstrap one (t_{0.975,1} = 12.7)
    assert row["worst_ci95"] > row["worst_ci95_hi"] - row["worst_ci95_lo"]
    columns = list(summary.columns)
    assert columns.index("worst_ci95_lo") == columns.index("worst_ci95") + 1
    assert summary_table(table).equals(summary)  # a fixed seed
    skipped = summary_table(table, bootstrap_samples=0)
    assert skipped["worst_ci95_lo"].isna().all() and skipped["worst_ci95_hi"].isna().all()
    md = squeeze(summary_markdown(summary))
    assert "| robust worst | robust worst [95% seeds+samples] |" in md
    interval = f"[{row['worst_ci95_lo'] * 100:.2f}, {row['worst_ci95_hi'] * 100:.2f}]"
    assert f"| 35.00 ± {row['worst_ci95'] * 100:.2f} | {interval} |" in md
    assert "`worst_ci95_lo`, `worst_ci95_hi`" in md and "t-interval over seeds" in md
