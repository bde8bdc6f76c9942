"""Tests for fairat.theory: closed forms of paper 001 (Theorems 3-4) against Monte Carlo, the
paper's printed forms where they differ, and the figure data (docs/specification.md#theory)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy.special import ndtr

from fairat.theory import closed_forms as cf
from fairat.theory import figure_data as fd
from fairat.theory import printed as pr
from fairat.theory import simulation

# Simulation size for the closed-form checks: SE of a class-wise risk about 0.001-0.004.
SIM = {"n_train": 50_000, "n_test": 100_000, "n_trials": 8}


@functools.cache
def simulate(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on="original", seed=0):
    """Cached simulation with mu_pos = mu_neg = mu_sum / 2 (only the sum matters)."""
    return simulation.simulate_classwise_risks(
        mu_sum / 2,
        mu_sum / 2,
        sigma_pos,
        sigma_neg,
        alpha,
        d,
        eps,
        lam,
        test_on=test_on,
        seed=seed,
        **SIM,
    )


def closed(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, evaluate_on="original"):
    return cf.adversarial_risks_closed_form(
        mu_sum / 2, mu_sum / 2, sigma_pos, sigma_neg, alpha, d, eps, lam, evaluate_on
    )


def exact_equal_variance(mu_sum, sigma, alpha, d, eps, lam, evaluate_on):
    """Phi(-A -/+ g B) (original) or Phi(-A / sqrt(g) -/+ sqrt(g) B) (mixup), module docstring."""
    g = 1.0 if lam is None else cf.mixup_variance_factor(lam)
    delta = mu_sum - 2 * eps
    a = math.sqrt(d) * delta / (2 * sigma)
    b = math.log(alpha / (1 - alpha)) * sigma / (math.sqrt(d) * delta)
    if evaluate_on == "original":
        return ndtr(-a - g * b), ndtr(-a + g * b)
    return ndtr(-a / math.sqrt(g) - math.sqrt(g) * b), ndtr(-a / math.sqrt(g) + math.sqrt(g) * b)


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def test_mixup_variance_factor():
    assert cf.mixup_variance_factor(0.0) == cf.mixup_variance_factor(1.0) == 1.0
    assert cf.mixup_variance_factor(0.5) == 0.5
    assert cf.mixup_variance_factor(0.3) == pytest.approx(0.58)
    with pytest.raises(ValueError):
        cf.mixup_variance_factor(1.2)


@pytest.mark.parametrize("lam, g", [(0.3, 0.58), (0.5, 0.5), ("uniform", 2 / 3), (None, 1.0)])
def test_same_class_mixup_scales_variance_keeps_mean(lam, g):
    rng = np.random.default_rng(0)
    x = 2.0 + 1.5 * rng.standard_normal((200_000, 2))
    mixed = simulation.same_class_mixup(x, lam, rng)
    assert mixed.mean() == pytest.approx(2.0, abs=0.01)
    assert mixed.var() == pytest.approx(g * 1.5**2, rel=0.01)


def test_same_class_mixup_partner_is_another_sample():
    x = np.arange(5.0)[:, None]
    # lam = 0: the partner itself
    mixed = simulation.same_class_mixup(x, 0.0, np.random.default_rng(0))
    assert np.all(mixed != x)
    assert simulation.same_class_mixup(x[:1], 0.3, np.random.default_rng(0)).item() == 0.0


def test_fit_threshold_erm_toy():
    # +1 at 1, 2, 3; -1 at -1, -2: any b in (-1, 1) separates; the median interval is chosen
    b = simulation.fit_threshold_erm(np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0]), 0.5)
    assert -1.0 < b < 1.0
    # with shift 0.5 (adversarial) the margins must exceed 0.5: b in (-0.5, 0.5)
    b = simulation.fit_threshold_erm(
        np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0]), 0.5, shift=0.5
    )
    assert -0.5 < b < 0.5
    # overlapping: +1 at 0 costs alpha / 2, -1 at 0.5 costs (1 - alpha) / 2 unless b is placed
    # to sacrifice the cheaper one
    b = simulation.fit_threshold_erm(np.array([0.0, 3.0]), np.array([0.5, -3.0]), 0.9)
    assert b > 0.0 and b + 0.5 > 0 and not (0.5 + b < 0)  # +1 at 0 correct: b > 0
    b = simulation.fit_threshold_erm(np.array([0.0, 3.0]), np.array([0.5, -3.0]), 0.1)
    assert 0.0 + b <= 0 and 0.5 + b <= 0  # -1 at 0.5 correct, +1 at 0 sacrificed


@pytest.mark.parametrize(
    "mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam",
    [
        (1.0, 1.0, 1.0, 0.7, 10, 0.0, None),
        (1.0, 1.0, 1.0, 0.7, 10, 0.2, 0.5),
        (0.6, 1.0, 1.5, 0.6, 2, 0.0, 0.5),
        (0.8, 1.3, 1.0, 0.3, 20, 0.1, None),
        (0.4, 0.5, 2.0, 0.9, 1, 0.0, None),  # the global minimum is a constant classifier
        (1.0, 1.0, 1.0, 0.7, 10, 0.1, "uniform"),
    ],
)
def test_optimal_threshold_is_global_minimum(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam):
    args = (mu_sum / 2, mu_sum / 2, sigma_pos, sigma_neg)
    b_star = cf.optimal_threshold(*args, alpha, d, eps, lam)

    grid = np.linspace(-15, 15, 30_001)
    r_pos, r_neg = cf.classwise_risks_at_threshold(grid, *args, d, eps, lam)
    best = cf.classwise_risks_at_threshold(b_star, *args, d, eps, lam)
    assert (
        alpha * best[0] + (1 - alpha) * best[1]
        <= np.min(alpha * r_pos + (1 - alpha) * r_neg) + 1e-12
    )


def test_constant_classifier_case():
    """The global minimum can be a constant classifier: no stationary point, or only a local one."""
    # no real root: the risk is monotone in b, "always +1" wins
    assert cf.optimal_threshold(0.524, 0.524, 2.861, 0.604, 0.904, 1) == math.inf
    assert cf.natural_risks_closed_form(0.524, 0.524, 2.861, 0.604, 0.904, 1) == (0.0, 1.0)
    # two real roots, yet "always -1" (risk alpha = 0.418) beats the local minimum
    a, c = cf._projected_means(0.329, 0.329, 1, 0.0)
    assert len(cf._stationary_thresholds(a, c, 1.385, 2.518, 0.418)) == 2
    assert cf.optimal_threshold(0.329, 0.329, 1.385, 2.518, 0.418, 1) == -math.inf
    assert cf.natural_risks_closed_form(0.329, 0.329, 1.385, 2.518, 0.418, 1) == (1.0, 0.0)


def test_equal_variances_is_the_limit_of_unequal():
    """sigma_pos == sigma_neg (linear equation for b) is continuous with the quadratic case."""
    for eps, lam in ((0.0, None), (0.1, 0.5)):
        equal = cf.adversarial_risks_closed_form(0.5, 0.5, 1.0, 1.0, 0.7, 10, eps, lam)
        near = cf.adversarial_risks_closed_form(0.5, 0.5, 1.0, 1.0 + 1e-9, 0.7, 10, eps, lam)
        assert near == pytest.approx(equal, abs=1e-8)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="mu_pos \\+ mu_neg - 2 eps"):
        cf.adversarial_risks_closed_form(0.2, 0.2, 1, 1, 0.7, 10, 0.2)
    with pytest.raises(ValueError, match="alpha"):
        cf.natural_risks_closed_form(0.5, 0.5, 1, 1, 1.0, 10)
    with pytest.raises(ValueError, match="evaluate_on"):
        cf.natural_risks_closed_form(0.5, 0.5, 1, 1, 0.7, 10, 0.5, "test")
    with pytest.raises(ValueError, match="lam"):
        cf.natural_risks_closed_form(0.5, 0.5, 1, 1, 0.7, 10, "beta")


# --------------------------------------------------------------------------------------------
# closed forms: explicit equal-variance formulas and the paper's Theorems 3-4
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("evaluate_on", ["original", "mixup"])
@pytest.mark.parametrize(
    "mu_sum, alpha, d, eps, lam",
    [
        (1.0, 0.7, 10, 0.0, None),
        (0.5, 0.8, 4, 0.0, 0.3),
        (1.0, 0.7, 10, 0.1, 0.5),
        (2.0, 0.6, 3, 0.7, 0.9),
    ],
)
def test_equal_variance_closed_form(mu_sum, alpha, d, eps, lam, evaluate_on):
    got = closed(mu_sum, 1.3, 1.3, alpha, d, eps, lam, evaluate_on)
    assert got == pytest.approx(
        exact_equal_variance(mu_sum, 1.3, alpha, d, eps, lam, evaluate_on), abs=1e-12
    )
    if evaluate_on == "mixup" or lam is None:  # the paper's eq. 20-21 / Theorem 3 are this case
        paper = pr.adversarial_risks_paper_theorem4(
            mu_sum / 2, mu_sum / 2, 1.3, 1.3, alpha, d, eps, lam
        )
        assert got == pytest.approx(paper, abs=1e-12)


def test_symmetric_model_has_equal_risks():
    """sigma_pos = sigma_neg, mu_pos = mu_neg, alpha = 1/2: R+ = R-, closed form and simulation."""
    for eps, lam in ((0.0, None), (0.0, 0.5), (0.15, None), (0.15, "uniform")):
        r = closed(1.0, 1.0, 1.0, 0.5, 8, eps, lam)
        assert r[0] == pytest.approx(r[1], abs=1e-10)
        sim = simulate(1.0, 1.0, 1.0, 0.5, 8, eps, lam)
        for kind in ("natural", "adversarial"):
            gap, se = sim.gap(kind)
            assert gap < 3 * se


def test_eps_zero_adversarial_equals_natural():
    for args in ((0.5, 0.5, 1.0, 1.0, 0.7, 10), (0.3, 0.5, 1.0, 1.5, 0.6, 3)):
        for lam in (None, 0.3, "uniform"):
            for ev in ("original", "mixup"):
                assert cf.adversarial_risks_closed_form(
                    *args, 0.0, lam, ev
                ) == cf.natural_risks_closed_form(*args, lam, ev)
    sim = simulate(1.0, 1.0, 1.0, 0.7, 10, 0.0, 0.5)
    assert sim.natural == sim.adversarial


# --------------------------------------------------------------------------------------------
# closed form vs Monte Carlo
# --------------------------------------------------------------------------------------------

GRID = [
    # mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on
    # Theorem 3 (natural training)
    (0.5, 1.0, 1.0, 0.7, 10, 0.0, None, "original"),
    (0.5, 1.0, 1.0, 0.7, 10, 0.0, 0.5, "original"),
    (1.0, 1.0, 1.0, 0.8, 4, 0.0, 0.3, "original"),
    (1.0, 1.0, 1.0, 0.8, 4, 0.0, None, "original"),
    (0.6, 1.0, 1.5, 0.6, 2, 0.0, 0.5, "original"),
    (0.5, 1.0, 1.0, 0.7, 10, 0.0, 0.5, "mixup"),
    (0.8, 1.0, 1.5, 0.6, 2, 0.0, 0.5, "mixup"),
    # Theorem 4 (adversarial training)
    (1.0, 1.0, 1.0, 0.7, 10, 0.1, None, "original"),
    (1.0, 1.0, 1.0, 0.7, 10, 0.1, 0.5, "original"),
    (1.0, 1.0, 1.0, 0.7, 5, 0.25, 0.2, "original"),
    (1.0, 1.0, 1.0, 0.7, 20, 0.05, 0.5, "original"),
    (0.8, 1.3, 1.0, 0.65, 20, 0.1, None, "original"),
    (0.8, 1.3, 1.0, 0.65, 20, 0.1, 0.5, "original"),
    (1.0, 1.0, 1.0, 0.7, 10, 0.1, 0.5, "mixup"),
    (1.0, 1.0, 1.0, 0.7, 10, 0.1, "uniform", "original"),
]


@pytest.mark.parametrize("mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on", GRID)
def test_closed_form_matches_simulation(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on):
    sim = simulate(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on)
    args = (mu_sum / 2, mu_sum / 2, sigma_pos, sigma_neg)
    b = cf.optimal_threshold(*args, alpha, d, eps, lam)
    eval_lam = lam if test_on == "mixup" else None
    adv = cf.classwise_risks_at_threshold(b, *args, d, eps, eval_lam)
    nat = cf.classwise_risks_at_threshold(b, *args, d, 0.0, eval_lam)  # natural risk of f*
    assert adv == closed(mu_sum, sigma_pos, sigma_neg, alpha, d, eps, lam, test_on)
    for want, got, se in (
        (adv, sim.adversarial, sim.adversarial_se),
        (nat, sim.natural, sim.natural_se),
    ):
        for w, g, s in zip(want, got, se, strict=True):
            assert 0 < s < 0.006
            assert abs(g - w) < 3 * s, (want, got, se)


# --------------------------------------------------------------------------------------------
# mixup shrinks the class-wise gap (Remarks 1-4)
# --------------------------------------------------------------------------------------------


def test_mixup_shrinks_gap_equal_variances_closed_form():
    """Equal variances: exact gap is increasing in B, decreasing in A; mixup raises A / lowers B.
    On the original distribution the chain R+(f*) <= R+(f_smix*) <= R-(f_smix*) <= R-(f*)
    holds for every lam (alpha > 1/2)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        mu_sum, alpha, d = rng.uniform(0.2, 3), rng.uniform(0.51, 0.95), int(rng.integers(1, 60))
        eps, lam = rng.uniform(0, 0.45 * mu_sum), rng.uniform(0, 1)
        for ev in ("original", "mixup"):
            std = closed(mu_sum, 1.0, 1.0, alpha, d, eps, None, ev)
            mix = closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam, ev)
            assert cf.classwise_gap(mix) <= cf.classwise_gap(std) + 1e-12
        std = closed(mu_sum, 1.0, 1.0, alpha, d, eps, None)
        mix = closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam)
        assert std[0] <= mix[0] + 1e-12 and mix[0] <= mix[1] + 1e-12 and mix[1] <= std[1] + 1e-12


# points where Remark 2 / Remark 4's condition ordering_bound <= g(lam) <= 1 holds
REMARK4_POINTS = [
    # mu_sum, alpha, d, eps, lam
    (0.5, 0.7, 4, 0.0, 0.5),  # Remark 2 (natural), bound 0.35
    (1.0, 0.7, 4, 0.25, 0.5),  # Remark 4, bound 0.35
    (1.0, 0.8, 8, 0.3, 0.3),  # Remark 4, bound 0.21, g = 0.58
]


@pytest.mark.parametrize("mu_sum, alpha, d, eps, lam", REMARK4_POINTS)
def test_remark4_condition_chain_and_gap(mu_sum, alpha, d, eps, lam):
    g = cf.mixup_variance_factor(lam)
    assert cf.ordering_bound(mu_sum / 2, mu_sum / 2, 1.0, alpha, d, eps) <= g
    # closed form, the paper's convention (risks on the training distribution)
    std = closed(mu_sum, 1.0, 1.0, alpha, d, eps, None, "mixup")
    mix = closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam, "mixup")
    assert std[0] <= mix[0] <= mix[1] <= std[1]
    # and on the original distribution
    mix_orig = closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam, "original")
    assert std[0] <= mix_orig[0] <= mix_orig[1] <= std[1]
    # simulation: mixup lowers the gap, on both test distributions, significantly
    for test_on in ("original", "mixup"):
        s_std = simulate(mu_sum, 1.0, 1.0, alpha, d, eps, None, test_on)
        s_mix = simulate(mu_sum, 1.0, 1.0, alpha, d, eps, lam, test_on)
        (gap_std, se_std), (gap_mix, se_mix) = s_std.gap(), s_mix.gap()
        assert gap_mix < gap_std - 3 * (se_std + se_mix)  # SD(X - Y) <= SD(X) + SD(Y)
        want = cf.classwise_gap(closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam, test_on))
        assert abs(gap_mix - want) < 3 * se_mix


def test_ordering_bound_is_sharp_and_remark2_printed_bound_is_not():
    """Just below the exact bound the first inequality R+(f_nat*) <= R+(f_smix*) flips; the
    printed Remark 2 bound (d^2 instead of d^4) admits points where it fails."""
    mu_sum, alpha, d = 0.5, 0.7, 6
    exact = cf.ordering_bound(mu_sum / 2, mu_sum / 2, 1.0, alpha, d)
    printed = pr.remark2_bound_paper(mu_sum / 2, mu_sum / 2, 1.0, alpha, d)
    assert exact == pytest.approx(printed * d**2)
    std = closed(mu_sum, 1.0, 1.0, alpha, d, 0.0, None, "mixup")
    for g, holds in ((exact * 1.001, True), (exact * 0.999, False)):
        lam = 0.5 * (1 + math.sqrt(2 * g - 1))  # g(lam) = g
        mix = closed(mu_sum, 1.0, 1.0, alpha, d, 0.0, lam, "mixup")
        assert (std[0] <= mix[0]) is holds
    # lam = 1/2 (g = 0.5): the printed condition (0.022 <= 0.5) holds, the chain does not
    assert printed <= 0.5 < exact
    mix = closed(mu_sum, 1.0, 1.0, alpha, d, 0.0, 0.5, "mixup")
    assert mix[0] < std[0]


# --------------------------------------------------------------------------------------------
# where the paper's printed formulas disagree with the derivation and the simulation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("lam", [None, 0.5])
def test_remark1_and_remark3_printed_gaps_differ_from_simulation(lam, eps):
    """Remark 1 (eq. 16-17) / Remark 3 (eq. 22-23) drop the -d^2 (mu_pos + mu_neg - 2 eps)^2
    term: at mu_sum = 1, alpha = 0.7, d = 10 the printed gap is about 3x the true one."""
    mu_sum, alpha, d = 1.0, 0.7, 10
    sim = simulate(mu_sum, 1.0, 1.0, alpha, d, eps, lam, "mixup")
    sim_gap, se = sim.gap()
    exact = cf.classwise_gap(closed(mu_sum, 1.0, 1.0, alpha, d, eps, lam, "mixup"))
    printed = pr.adversarial_gap_paper_remark3(mu_sum / 2, mu_sum / 2, 1.0, alpha, d, eps, lam)
    if eps == 0:
        assert printed == pr.natural_gap_paper_remark1(mu_sum / 2, mu_sum / 2, 1.0, alpha, d, lam)
    assert abs(sim_gap - exact) < 3 * se
    assert abs(sim_gap - printed) > 20 * se and printed > 2 * exact


def test_remark1_printed_gap_is_exact_only_without_the_mean_term():
    """The printed |2 Phi(-B sqrt(g)) - 1| is the exact gap with A = 0 (it is an upper bound)."""
    mu_sum, alpha, d, lam = 1.0, 0.7, 10, 0.5
    g = cf.mixup_variance_factor(lam)
    b = math.log(alpha / (1 - alpha)) / (math.sqrt(d) * mu_sum)
    printed = pr.natural_gap_paper_remark1(mu_sum / 2, mu_sum / 2, 1.0, alpha, d, lam)
    assert printed == pytest.approx(ndtr(math.sqrt(g) * b) - ndtr(-math.sqrt(g) * b))
    exact = cf.classwise_gap(
        cf.natural_risks_closed_form(0.5, 0.5, 1.0, 1.0, alpha, d, lam, "mixup")
    )
    assert exact < printed


def test_theorem3_printed_unequal_variances_exact_only_at_d1():
    args = (0.3, 0.5, 1.0, 1.5, 0.6)
    for lam in (None, 0.5):
        assert pr.natural_risks_paper_theorem3(*args, 1, lam) == pytest.approx(
            cf.natural_risks_closed_form(*args, 1, lam, "mixup"), abs=1e-12
        )
        assert pr.adversarial_risks_paper_theorem4(*args, 1, 0.1, lam) == pytest.approx(
            cf.adversarial_risks_closed_form(*args, 1, 0.1, lam, "mixup"), abs=1e-12
        )
    # d = 2: printed eta* misses a factor d; the simulation follows the exact form
    sim = simulate(0.8, 1.0, 1.5, 0.6, 2, 0.0, 0.5, "mixup")
    exact = cf.natural_risks_closed_form(*args, 2, 0.5, "mixup")
    printed = pr.natural_risks_paper_theorem3(*args, 2, 0.5)
    for e, p, s, se in zip(exact, printed, sim.natural, sim.natural_se, strict=True):
        assert abs(s - e) < 3 * se
        assert abs(s - p) > 20 * se


# --------------------------------------------------------------------------------------------
# figure data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(fd.FIGURES))
def test_figure_data_closed_form(kind):
    df = fd.figure_data(kind, simulate=False, include_paper_printed=True)
    spec = fd.FIGURES[kind]
    assert list(df.columns) == [
        "figure",
        "x_name",
        "x",
        "source",
        "training",
        "cls",
        "risk_type",
        "risk",
        "se",
    ]
    assert len(df) == len(spec["x"]) * 2 * 2 * 2
    assert set(df.source) == {"closed_form", "paper_printed"}
    assert set(df.risk_type) == {"natural" if kind == "1a" else "adversarial"}
    assert df.risk.between(0, 1).all() and (df.se == 0).all()
    cf = df[df.source == "closed_form"].pivot_table(
        index="x", columns=["training", "cls"], values="risk"
    )
    gap_std = (cf["standard", -1] - cf["standard", 1]).abs()
    gap_mix = (cf["mixup", -1] - cf["mixup", 1]).abs()
    assert (gap_mix < gap_std).all()
    # standard training: the printed Propositions 1-2 are exact
    pp = df[(df.source == "paper_printed") & (df.training == "standard")].risk.to_numpy()
    assert pp == pytest.approx(
        df[(df.source == "closed_form") & (df.training == "standard")].risk.to_numpy()
    )
    assert df.attrs["params"]["alpha"] == 0.7


def test_figure_data_with_simulation():
    df = fd.figure_data("2b", n_train=5_000, n_test=20_000, n_trials=3, overrides={"x": [4, 16]})
    assert set(df.source) == {"closed_form", "simulation"}
    assert len(df) == 2 * 2 * 2 * 2
    sim = df[df.source == "simulation"].set_index(["x", "training", "cls"])
    cf = df[df.source == "closed_form"].set_index(["x", "training", "cls"])
    assert (sim.se > 0).all()
    assert ((sim.risk - cf.risk).abs() < 4 * sim.se + 0.005).all()
    with pytest.raises(ValueError, match="unknown figure"):
        fd.figure_data("3c")
