"""Class-wise risks of linear classifiers on two Gaussian classes, with and without same-class
mixup: the theory of Zhong & Tandon, *Learning Fair Robustness via Domain Mixup*
(arXiv 2411.14424), section III, Theorems 3 and 4, Remarks 1-4 and appendices A-B
(docs/specification.md#theory).

Model (the paper's Definition 1)
--------------------------------
y = +1 with probability alpha, x | y=+1 ~ N(mu_pos 1, sigma_pos^2 I_d),
x | y=-1 ~ N(-mu_neg 1, sigma_neg^2 I_d); classifier f(x) = sign(<w, x> + b).
Same-class mixup x_mix = lam x_i + (1 - lam) x_j of two independent samples of one class keeps
the class mean and multiplies the class variance by g(lam) = lam^2 + (1 - lam)^2 (eq. 10-11).

Reduction to one dimension
--------------------------
Translating x by c 1 (and b by c <w, 1>) leaves every risk unchanged, so only
mu_pos + mu_neg matters. Translate so that mu_pos - eps > 0 and mu_neg - eps > 0 (possible iff
mu_pos + mu_neg - 2 eps > 0, which every function here requires). For ||w||_2 = 1 and any b the
eps-adversarial class-wise risks are Phi((-b - mu_pos <w,1> + eps ||w||_1) / sigma_pos) and
Phi((b - mu_neg <w,1> + eps ||w||_1) / sigma_neg); since ||w||_1 >= |<w,1>|, both are smallest,
for every b at once, at w = 1 / sqrt(d) (the paper proves w_1 = ... = w_d by contradiction,
following Xu et al. 2021; the argument above also fixes the sign). With that w the projection
z = <w, x> is N(sqrt(d) mu_pos, g sigma_pos^2) for class +1 and N(-sqrt(d) mu_neg,
g sigma_neg^2) for class -1, ||w||_1 = sqrt(d), and an L-inf perturbation of size eps moves z by
eps sqrt(d) against the label. Writing a = sqrt(d)(mu_pos - eps), c = sqrt(d)(mu_neg - eps),
s_pm = sqrt(g) sigma_pm, the classifier "+1 iff z + b > 0" has

    R+(b) = Phi((-b - a) / s_pos),     R-(b) = Phi((b - c) / s_neg)             (paper 26-27, 32, 34)

(b here is the paper's t* = b*/w* divided by sqrt(d): the paper uses w* 1, i.e. z = sum_i x_i).

Optimal threshold (paper eq. 28, 36, our derivation). Setting the derivative of
alpha R+(b) + (1 - alpha) R-(b) to zero gives u_pos^2 - u_neg^2 = 2 L with
u_pos = (b + a) / s_pos, u_neg = (b - c) / s_neg, L = log(alpha s_neg / ((1 - alpha) s_pos)):

    D b^2 + 2 P b + Q = 0,   D = s_neg^2 - s_pos^2,   P = a s_neg^2 + c s_pos^2,
    Q = a^2 s_neg^2 - c^2 s_pos^2 - 2 L s_pos^2 s_neg^2,
    roots b = (-P +- s_pos s_neg (a + c) sqrt(1 + 2 L D / (a + c)^2)) / D,

and for D = 0 (equal variances) the single root b = (c - a) / 2 + L s^2 / (a + c). The "+" root
is the one between the class means (it stays finite as D -> 0). We take the global minimum
over the real roots and b = +-inf (a constant classifier), so the answer is exact also where
the stationary point is only local (large prior imbalance, small separation) or the roots are
complex; roots are computed in the cancellation-free form q = -(P + sign(P) sqrt(P^2 - D Q)),
b in {q / D, Q / q}.

Equal variances, closed form (paper Theorem 3, second part, and eq. 20-21; correct as printed)
--------------------------------------------------------------------------------------------
With Delta = mu_pos + mu_neg - 2 eps, K = d log(alpha / (1 - alpha)) and risks measured on the
*training* distribution (mixed data for mixup training: the paper's convention),

    R+/- = Phi((-d^2 Delta^2 -/+ 2 K sigma^2 g) / (2 sigma Delta sqrt(d^3 g)))
         = Phi(-A / sqrt(g) -/+ B sqrt(g)),
    A = sqrt(d) Delta / (2 sigma),   B = K sigma / (d^{3/2} Delta) = log(alpha / (1 - alpha)) sigma / (sqrt(d) Delta).

Measured on the *original* (un-mixed) distribution, which is what a classifier trained on mixed
data meets at test time, R+/- = Phi(-A -/+ g B). The paper's Theorems 3-4 use the first
convention (the sqrt(d g) in their denominators); ``evaluate_on`` selects either, and the
simulation (``test_on``) can draw its test set from either. For alpha > 1/2 (the paper's
"K is a positive constant") class +1 is favoured: R+ < R-.

Where the paper's printed forms differ from the derivation
----------------------------------------------------------
1. Remark 1 (eq. 16-17) and Remark 3 (eq. 22-23) drop the term -A / sqrt(g) from the argument
   of Phi: they print Delta = |2 Phi(-B sqrt(g)) - 1| whereas the derivation gives
   |Phi(-A/sqrt(g) + B sqrt(g)) - Phi(-A/sqrt(g) - B sqrt(g))|, which is smaller whenever A > 0.
   The conclusion (mixup shrinks the gap) still holds: the exact gap is increasing in B and
   decreasing in A, and mixup raises A and lowers B (on the original distribution it only lowers
   B, to g B). ``natural_gap_paper_remark1`` / ``adversarial_gap_paper_remark3`` return the
   printed forms, ``classwise_gap`` the exact one.
2. Theorem 3's eta* (eq. 14-15, 28) and Theorem 4's s* (eq. 19) for unequal variances print
   (-d(mu_pos sigma_neg^2 + mu_neg sigma_pos^2) + sigma_pos sigma_neg (mu_pos + mu_neg)
   sqrt(1 + 2 K g (sigma_neg^2 - sigma_pos^2) / (mu_pos + mu_neg)^2)) / (sigma_neg^2 - sigma_pos^2)
   with K = d log(alpha sigma_neg / ((1 - alpha) sigma_pos)). The derivation (in the paper's
   units z = sum_i x_i) gives the same with the second term multiplied by d and K replaced by
   K / d^2, i.e. sigma_pos sigma_neg (mu_pos + mu_neg) sqrt(d^2 + 2 K g (sigma_neg^2 -
   sigma_pos^2) / (mu_pos + mu_neg)^2); the two agree only at d = 1.
   ``natural_risks_paper_theorem3`` / ``adversarial_risks_paper_theorem4`` return the printed
   forms.
3. Remark 2's bound A_paper = d^2 (mu_pos + mu_neg)^4 / (4 K^2 sigma^4): the derivation gives
   R+(f_nat*) <= R+(f_smix*) (on mixed data) iff g >= (A / B)^2 = d^4 (mu_pos + mu_neg)^4 /
   (4 K^2 sigma^4), i.e. d^4, not d^2; Remark 4's bound B = M'^2 / (4 K^2 sigma^4) with
   M' = d^2 Delta^2 is the same expression and is right. See ``ordering_bound``.

Monte Carlo
-----------
``simulate_classwise_risks`` samples d-dimensional data, applies same-class mixup, fixes w to the
all-ones direction (justified above; w is not fitted) and fits b by exact empirical (adversarial)
0-1 risk minimisation, then measures class-wise natural and adversarial risks on a fresh test
sample. ``figure_data`` assembles the data of the paper's Figures 1(a), 1(b), 2(a), 2(b).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import ndtr

Lam = float | str | None
"""Mixup coefficient: ``None`` (no mixup), a fixed value in [0, 1], or ``"uniform"``
(lam ~ Uniform[0, 1] independently per mixed pair, the project's default, docs/specification.md#mixup-at)."""

EvaluateOn = Literal["original", "mixup"]

_QUAD_NODES = 64  # Gauss-Legendre nodes for expectations over lam ~ Uniform[0, 1]


# --------------------------------------------------------------------------------------------
# mixup variance factor
# --------------------------------------------------------------------------------------------


def mixup_variance_factor(lam: float) -> float:
    """g(lam) = lam^2 + (1 - lam)^2: the factor by which same-class mixup of two independent
    samples scales the class variance (paper eq. 10-11). g(0) = g(1) = 1, g(1/2) = 1/2 and
    E[g(lam)] = 2/3 for lam ~ Uniform[0, 1]."""
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    return lam * lam + (1.0 - lam) * (1.0 - lam)


def _variance_factors(lam: Lam) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature (nodes g_k, weights p_k) of the distribution of g(lam); one node for fixed lam."""
    if lam is None:
        return np.ones(1), np.ones(1)
    if isinstance(lam, str):
        if lam != "uniform":
            raise ValueError(f"lam must be None, a number in [0, 1] or 'uniform', got {lam!r}")
        x, w = np.polynomial.legendre.leggauss(_QUAD_NODES)
        lam_nodes = 0.5 * (x + 1.0)
        return lam_nodes**2 + (1.0 - lam_nodes) ** 2, 0.5 * w
    return np.array([mixup_variance_factor(lam)]), np.ones(1)


# --------------------------------------------------------------------------------------------
# the one-dimensional problem
# --------------------------------------------------------------------------------------------


def _check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if sigma_pos <= 0 or sigma_neg <= 0:
        raise ValueError("sigma_pos and sigma_neg must be positive")
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if mu_pos + mu_neg - 2.0 * eps <= 0:
        raise ValueError(
            "the theory needs mu_pos + mu_neg - 2 eps > 0 (otherwise the all-ones direction is "
            f"not optimal); got mu_pos + mu_neg = {mu_pos + mu_neg}, eps = {eps}"
        )


def _projected_means(mu_pos, mu_neg, d, eps) -> tuple[float, float]:
    """(a, c): class +1 projects to mean a, class -1 to mean -c, after the eps attack."""
    r = math.sqrt(d)
    return r * (mu_pos - eps), r * (mu_neg - eps)


def _risks_1d(b, a, c, s_pos, s_neg, g_nodes, g_weights):
    """(R+, R-) of "+1 iff z + b > 0" when z | y=+1 ~ N(a, g s_pos^2), z | y=-1 ~ N(-c, g s_neg^2)
    and g is distributed as (g_nodes, g_weights); b may be +-inf, a float or an array."""
    root = np.sqrt(g_nodes)
    b_arr = np.asarray(b, dtype=np.float64)[..., None]
    with np.errstate(invalid="ignore"):
        r_pos = ndtr((-b_arr - a) / (s_pos * root)) @ g_weights
        r_neg = ndtr((b_arr - c) / (s_neg * root)) @ g_weights
    if np.ndim(b) == 0:
        return float(r_pos), float(r_neg)
    return r_pos, r_neg


def _risk_slope_1d(b, a, c, s_pos, s_neg, alpha, g_nodes, g_weights) -> float:
    """d/db of alpha R+(b) + (1 - alpha) R-(b)."""
    sp, sn = s_pos * np.sqrt(g_nodes), s_neg * np.sqrt(g_nodes)
    up, un = (b + a) / sp, (b - c) / sn
    dens_pos = np.exp(-0.5 * up * up) / (math.sqrt(2 * math.pi) * sp)
    dens_neg = np.exp(-0.5 * un * un) / (math.sqrt(2 * math.pi) * sn)
    return float(g_weights @ (-alpha * dens_pos + (1.0 - alpha) * dens_neg))


def _stationary_thresholds(a, c, s_pos, s_neg, alpha) -> list[float]:
    """Real roots of D b^2 + 2 P b + Q = 0 (module docstring), cancellation-free."""
    big_l = math.log(alpha * s_neg / ((1.0 - alpha) * s_pos))
    vp, vn = s_pos * s_pos, s_neg * s_neg
    big_d = vn - vp
    big_p = a * vn + c * vp
    big_q = a * a * vn - c * c * vp - 2.0 * big_l * vp * vn
    disc = vp * vn * ((a + c) ** 2 + 2.0 * big_l * big_d)  # = P^2 - D Q
    if disc < 0:
        return []
    q = -(big_p + math.copysign(math.sqrt(disc), big_p))
    roots = []
    if q != 0.0:
        roots.append(big_q / q)
    if big_d != 0.0:
        roots.append(q / big_d)
    return [r for r in roots if math.isfinite(r)]


def _optimal_threshold_1d(a, c, s_pos, s_neg, alpha, lam: Lam) -> float:
    """b minimising alpha R+(b) + (1 - alpha) R-(b) over the extended real line."""
    g_nodes, g_weights = _variance_factors(lam)

    def risk(b):
        r_pos, r_neg = _risks_1d(b, a, c, s_pos, s_neg, g_nodes, g_weights)
        return alpha * r_pos + (1.0 - alpha) * r_neg

    if len(g_nodes) == 1:  # Gaussian classes: closed-form stationary points
        g = float(g_nodes[0])
        candidates = _stationary_thresholds(a, c, s_pos * math.sqrt(g), s_neg * math.sqrt(g), alpha)
    else:  # scale mixture (random lam): grid, then the root of the slope in the best cell
        spread = 12.0 * max(s_pos, s_neg)
        grid = np.linspace(min(-a, c) - spread, max(-a, c) + spread, 4001)
        k = int(np.argmin(risk(grid)))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        slope = functools.partial(
            _risk_slope_1d,
            a=a,
            c=c,
            s_pos=s_pos,
            s_neg=s_neg,
            alpha=alpha,
            g_nodes=g_nodes,
            g_weights=g_weights,
        )
        if slope(lo) < 0 < slope(hi):
            candidates = [brentq(slope, lo, hi, xtol=1e-13)]
        else:
            candidates = [float(grid[k])]
    candidates = candidates + [-math.inf, math.inf]
    values = [risk(b) for b in candidates]
    return candidates[int(np.argmin(values))]  # finite candidates come first and win ties


# --------------------------------------------------------------------------------------------
# closed forms (exact)
# --------------------------------------------------------------------------------------------


def optimal_threshold(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    eps: float = 0.0,
    lam: Lam = None,
) -> float:
    """Bias b of the optimal (eps-adversarially trained, possibly mixup-trained) classifier
    sign(<w, x> + b) with w = 1 / sqrt(d) (unit L2 norm; the paper's t* = b*/w* with w* = 1 is
    sqrt(d) times this). Exact global minimiser of the training risk (module docstring; paper
    eq. 28 / 36 with the corrections noted there). ``eps = 0`` is natural training. For
    ``lam = "uniform"`` the mixed classes are scale mixtures of Gaussians and the minimiser is
    found numerically (quadrature over lam, grid, then Brent on the slope): no closed form
    exists there."""
    _check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps)
    a, c = _projected_means(mu_pos, mu_neg, d, eps)
    return _optimal_threshold_1d(a, c, sigma_pos, sigma_neg, alpha, lam)


def classwise_risks_at_threshold(
    b: float | np.ndarray,
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    d: int,
    eps: float = 0.0,
    lam: Lam = None,
) -> tuple[float, float]:
    """(R+, R-) (floats, or arrays for an array ``b``) of sign(<1/sqrt(d), x> + b) under an
    L-inf attack of size eps (eps = 0: natural risks), on the original distribution (``lam=None``) or on same-class mixed data with
    coefficient ``lam``: R+ = E_g Phi((-b - sqrt(d)(mu_pos - eps)) / (sqrt(g) sigma_pos)),
    R- = E_g Phi((b - sqrt(d)(mu_neg - eps)) / (sqrt(g) sigma_neg)) (paper eq. 26-27, 32, 34)."""
    a, c = _projected_means(mu_pos, mu_neg, d, eps)
    g_nodes, g_weights = _variance_factors(lam)
    return _risks_1d(b, a, c, sigma_pos, sigma_neg, g_nodes, g_weights)


def adversarial_risks_closed_form(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    eps: float,
    lam: Lam = None,
    evaluate_on: EvaluateOn = "original",
) -> tuple[float, float]:
    """Class-wise eps-adversarial risks (R+, R-) of the optimal eps-adversarially trained linear
    classifier, trained on the original data (``lam=None``, the paper's Proposition 2 /
    f_adv*) or on same-class mixed data (paper Theorem 4, f_smix*), exact for any
    sigma_pos, sigma_neg (including sigma_pos == sigma_neg).

    ``evaluate_on="mixup"`` measures the risks on the mixed distribution the classifier was
    trained on: that is the paper's convention (the sqrt(d g) in the denominators of eq. 18,
    20-21). ``evaluate_on="original"`` (default) measures them on the original distribution, as
    at test time and as in ``simulate_classwise_risks``. For equal variances this is
    R+/- = Phi(-A -/+ g B) (original) or Phi(-A/sqrt(g) -/+ sqrt(g) B) (mixup) with
    A = sqrt(d)(mu_pos + mu_neg - 2 eps) / (2 sigma), B = log(alpha/(1-alpha)) sigma /
    (sqrt(d)(mu_pos + mu_neg - 2 eps)); the paper's eq. 20-21 are the "mixup" form.
    ``lam="uniform"`` (lam ~ Uniform[0, 1] per pair) has no closed form: the threshold is found
    numerically and the risks are exact Gaussian expressions (averaged over lam for "mixup")."""
    if evaluate_on not in ("original", "mixup"):
        raise ValueError(f"evaluate_on must be 'original' or 'mixup', got {evaluate_on!r}")
    b = optimal_threshold(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps, lam)
    eval_lam = lam if evaluate_on == "mixup" else None
    return classwise_risks_at_threshold(b, mu_pos, mu_neg, sigma_pos, sigma_neg, d, eps, eval_lam)


def natural_risks_closed_form(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    lam: Lam = None,
    evaluate_on: EvaluateOn = "original",
) -> tuple[float, float]:
    """Class-wise natural risks (R+, R-) of the optimal naturally trained linear classifier,
    without mixup (paper Proposition 1, f_nat*) or with same-class mixup (Theorem 3, f_smix*):
    ``adversarial_risks_closed_form`` at eps = 0. Exact for every sigma_pos, sigma_neg. For
    equal variances and ``evaluate_on="mixup"`` it is the paper's Theorem 3 (correct as
    printed): R+/- = Phi((-d^2 (mu_pos + mu_neg)^2 -/+ 2 K sigma^2 g) /
    (2 sigma (mu_pos + mu_neg) sqrt(d^3 g))), K = d log(alpha / (1 - alpha)); with
    ``evaluate_on="original"`` (default) it is R+/- = Phi((-d^2 (mu_pos + mu_neg)^2 -/+
    2 K sigma^2 g) / (2 sigma (mu_pos + mu_neg) d^{3/2})) = Phi(-A -/+ g B)."""
    return adversarial_risks_closed_form(
        mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, 0.0, lam, evaluate_on
    )


def classwise_gap(risks: tuple[float, float]) -> float:
    """Delta = |R+ - R-| (the paper's Delta_nat / Delta_adv)."""
    return abs(risks[0] - risks[1])


def ordering_bound(
    mu_pos: float, mu_neg: float, sigma: float, alpha: float, d: int, eps: float = 0.0
) -> float:
    """Exact lower bound on g(lam) of Remarks 2 and 4 (equal variances, alpha > 1/2): the chain
    R+(f*) <= R+(f_smix*) <= R-(f_smix*) <= R-(f*), risks on the training distribution (the
    paper's convention), holds iff g(lam) >= (A / B)^2 = d^4 Delta^4 / (4 K^2 sigma^4) with
    Delta = mu_pos + mu_neg - 2 eps, K = d log(alpha / (1 - alpha)). This is Remark 4's
    B = M'^2 / (4 K^2 sigma^4) (M' = d^2 Delta^2) and, at eps = 0, Remark 2's bound with d^4 in
    place of the printed d^2 (``remark2_bound_paper``). Only the first inequality needs it; on
    the original distribution the chain holds for every lam."""
    _check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, eps)
    k = d * math.log(alpha / (1.0 - alpha))
    delta = mu_pos + mu_neg - 2.0 * eps
    return d**4 * delta**4 / (4.0 * k * k * sigma**4)


# --------------------------------------------------------------------------------------------
# the paper's printed forms
# --------------------------------------------------------------------------------------------


def _paper_threshold(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps, g) -> float:
    """t* / s* exactly as printed (eq. 14-15/28 and 19/36), in the paper's units z = sum_i x_i."""
    mp, mn = mu_pos - eps, mu_neg - eps
    if sigma_pos == sigma_neg:  # eq. 29 / 36, K = d log(alpha / (1 - alpha))
        k = d * math.log(alpha / (1.0 - alpha))
        return (-(d**2) * (mp * mp - mn * mn) + 2.0 * k * sigma_pos**2 * g) / (2.0 * d * (mp + mn))
    k = d * math.log(alpha * sigma_neg / ((1.0 - alpha) * sigma_pos))
    vp, vn = sigma_pos**2, sigma_neg**2
    inner = 1.0 + 2.0 * k * g * (vn - vp) / (mp + mn) ** 2
    if inner < 0:
        return math.nan
    big_m = -d * (
        mp * vn + mn * vp
    )  # the paper's M (eq. 19); -d(mu_pos s-^2 + mu_neg s+^2) at eps=0
    return (big_m + sigma_pos * sigma_neg * (mp + mn) * math.sqrt(inner)) / (vn - vp)


def adversarial_risks_paper_theorem4(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    eps: float,
    lam: float | None = None,
) -> tuple[float, float]:
    """Theorem 4 *as printed* (eq. 18-19; eq. 20-21 when sigma_pos == sigma_neg; ``lam=None``:
    Proposition 2): R+ = Phi((-s* - d(mu_pos - eps)) / (sqrt(d g) sigma_pos)),
    R- = Phi((s* - d(mu_neg - eps)) / (sqrt(d g) sigma_neg)), risks on the mixed distribution,
    with s* = (M + sigma_pos sigma_neg (mu_pos + mu_neg - 2 eps) sqrt(1 + 2 K g (sigma_neg^2 -
    sigma_pos^2) / (mu_pos + mu_neg - 2 eps)^2)) / (sigma_neg^2 - sigma_pos^2),
    M = -d(mu_pos sigma_neg^2 + mu_neg sigma_pos^2 - eps(sigma_pos^2 + sigma_neg^2)),
    K = d log(alpha sigma_neg / ((1 - alpha) sigma_pos)). The equal-variance form agrees with the
    exact ``adversarial_risks_closed_form(..., evaluate_on="mixup")``; the unequal-variance s*
    does only at d = 1 (module docstring, item 2). NaN where the printed square root is of a
    negative number."""
    _check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps)
    g = 1.0 if lam is None else mixup_variance_factor(lam)
    t = _paper_threshold(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps, g)
    scale = math.sqrt(d * g)
    r_pos = float(ndtr((-t - d * (mu_pos - eps)) / (scale * sigma_pos)))
    r_neg = float(ndtr((t - d * (mu_neg - eps)) / (scale * sigma_neg)))
    return r_pos, r_neg


def natural_risks_paper_theorem3(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    lam: float | None = None,
) -> tuple[float, float]:
    """Theorem 3 *as printed* (eq. 14-15 with eta*; its equal-variance form; ``lam=None``:
    Proposition 1 eq. 5-6): ``adversarial_risks_paper_theorem4`` at eps = 0."""
    return adversarial_risks_paper_theorem4(
        mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, 0.0, lam
    )


def adversarial_gap_paper_remark3(
    mu_pos: float, mu_neg: float, sigma: float, alpha: float, d: int, eps: float, lam=None
) -> float:
    """Remark 3 *as printed* (eq. 22; eq. 23 with mixup): Delta_adv = |2 Phi(-2 K sigma^2
    sqrt(g) / (2 d^{3/2} sigma (mu_pos + mu_neg - 2 eps))) - 1|, K = d log(alpha / (1 - alpha)).
    It drops the term -d^2 (mu_pos + mu_neg - 2 eps)^2 of the numerator in eq. 20-21; the exact
    gap is ``classwise_gap(adversarial_risks_closed_form(..., evaluate_on="mixup"))``."""
    _check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, eps)
    g = 1.0 if lam is None else mixup_variance_factor(lam)
    k = d * math.log(alpha / (1.0 - alpha))
    delta = mu_pos + mu_neg - 2.0 * eps
    arg = -2.0 * k * sigma**2 * math.sqrt(g) / (2.0 * d**1.5 * sigma * delta)
    return abs(2.0 * float(ndtr(arg)) - 1.0)


def natural_gap_paper_remark1(
    mu_pos: float, mu_neg: float, sigma: float, alpha: float, d: int, lam=None
) -> float:
    """Remark 1 *as printed* (eq. 16 without, eq. 17 with mixup):
    Delta_nat = |2 Phi(-2 K sigma^2 sqrt(g) / (2 d^{3/2} sigma (mu_pos + mu_neg))) - 1|; drops
    the term -d^2 (mu_pos + mu_neg)^2 of Theorem 3's numerator (docs/specification.md#theory: "the paper's Remark 1
    drops a term"). Exact: ``classwise_gap(natural_risks_closed_form(..., evaluate_on="mixup"))``."""
    return adversarial_gap_paper_remark3(mu_pos, mu_neg, sigma, alpha, d, 0.0, lam)


def remark2_bound_paper(mu_pos: float, mu_neg: float, sigma: float, alpha: float, d: int) -> float:
    """Remark 2's bound *as printed*: A = d^2 (mu_pos + mu_neg)^4 / (4 K^2 sigma^4),
    K = d log(alpha / (1 - alpha)); the derivation gives d^4 (``ordering_bound``)."""
    _check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, 0.0)
    k = d * math.log(alpha / (1.0 - alpha))
    return d**2 * (mu_pos + mu_neg) ** 4 / (4.0 * k * k * sigma**4)


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------


def sample_class(n: int, mean: float, sigma: float, d: int, rng: np.random.Generator) -> np.ndarray:
    """n points of N(mean 1, sigma^2 I_d), shape (n, d)."""
    return mean + sigma * rng.standard_normal((n, d))


def same_class_mixup(x: np.ndarray, lam: Lam, rng: np.random.Generator) -> np.ndarray:
    """x_mix_i = lam_i x_i + (1 - lam_i) x_j(i), j(i) uniform among the other rows of ``x`` (all
    rows one class; a single row is mixed with itself), lam_i = lam or ~ Uniform[0, 1]
    (``"uniform"``). ``lam=None`` returns ``x`` unchanged."""
    if lam is None:
        return x
    n = len(x)
    partner = (np.arange(n) + rng.integers(1, n, size=n)) % n if n > 1 else np.zeros(n, int)
    lam_i = _draw_lam(lam, n, rng)
    return lam_i[:, None] * x + (1.0 - lam_i[:, None]) * x[partner]


def _draw_lam(lam: Lam, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(lam, str):
        _variance_factors(lam)  # validates the name
        return rng.random(n)
    mixup_variance_factor(lam)  # validates the range
    return np.full(n, float(lam))


def fit_threshold_erm(
    z_pos: np.ndarray, z_neg: np.ndarray, alpha: float, shift: float = 0.0
) -> float:
    """b minimising the class-weighted empirical adversarial 0-1 risk
    alpha mean_i 1[z_pos_i + b - shift <= 0] + (1 - alpha) mean_j 1[-(z_neg_j + b) - shift <= 0]
    of "+1 iff z + b > 0", z = <w, x>, shift = eps ||w||_1 (0: natural risk). Exact sweep: the
    risk is constant between consecutive sorted breakpoints u_i = shift - z_pos_i (errors on class
    +1 need b <= u_i) and v_j = -z_neg_j - shift (errors on class -1 need b >= v_j); among the
    minimising open intervals the median one is taken and b is its midpoint (an unbounded end
    interval gives its finite end -/+ 1)."""
    u = shift - np.asarray(z_pos, dtype=np.float64)
    v = -np.asarray(z_neg, dtype=np.float64) - shift
    points = np.concatenate([u, v])
    is_u = np.concatenate([np.ones(len(u), bool), np.zeros(len(v), bool)])
    order = np.argsort(points, kind="stable")
    points, is_u = points[order], is_u[order]
    # interval k = (points[k-1], points[k]), k = 0..N; counts of u and v at or below points[k-1]
    cu = np.concatenate([[0], np.cumsum(is_u)])
    cv = np.concatenate([[0], np.cumsum(~is_u)])
    risk = alpha * (len(u) - cu) / len(u) + (1.0 - alpha) * cv / len(v)
    best = np.flatnonzero(risk <= risk.min() + 1e-12)
    k = int(best[len(best) // 2])
    if k == 0:
        return float(points[0] - 1.0)
    if k == len(points):
        return float(points[-1] + 1.0)
    return float(0.5 * (points[k - 1] + points[k]))


def _project(mean, sigma, n, d, rng, chunk) -> np.ndarray:
    """<1/sqrt(d), x> for n fresh samples of N(mean 1, sigma^2 I_d), drawn in chunks."""
    out = np.empty(n)
    rows = max(1, chunk // d)
    for start in range(0, n, rows):
        m = min(rows, n - start)
        out[start : start + m] = sample_class(m, mean, sigma, d, rng).sum(axis=1) / math.sqrt(d)
    return out


@dataclass(frozen=True)
class SimulationResult:
    """Monte-Carlo class-wise risks: (R+, R-) and their standard errors, natural and
    eps-adversarial, of the classifier trained with ``eps`` / ``lam``; per-trial thresholds and
    per-trial risks (shape (n_trials, 2), columns R+, R-) on the shared test set of size
    ``n_test`` per class."""

    natural: tuple[float, float]
    natural_se: tuple[float, float]
    adversarial: tuple[float, float]
    adversarial_se: tuple[float, float]
    thresholds: np.ndarray = field(repr=False)
    natural_trials: np.ndarray = field(repr=False)
    adversarial_trials: np.ndarray = field(repr=False)
    n_test: int = 0

    def gap(self, risk: Literal["natural", "adversarial"] = "adversarial") -> tuple[float, float]:
        """(|R+ - R-|, its standard error). R+ and R- share each trial's threshold, so they are
        anti-correlated: the SE comes from the per-trial differences (training noise) plus the
        two classes' independent binomial test-set variances."""
        trials = self.natural_trials if risk == "natural" else self.adversarial_trials
        diff = trials[:, 1] - trials[:, 0]
        mean = trials.mean(axis=0)
        spread = diff.var(ddof=1) / len(diff) if len(diff) > 1 else 0.0
        binom = float(np.sum(mean * (1.0 - mean))) / self.n_test
        return abs(float(diff.mean())), math.sqrt(spread + binom)


def simulate_classwise_risks(
    mu_pos: float,
    mu_neg: float,
    sigma_pos: float,
    sigma_neg: float,
    alpha: float,
    d: int,
    eps: float = 0.0,
    lam: Lam = None,
    *,
    n_train: int = 50_000,
    n_test: int = 100_000,
    n_trials: int = 8,
    test_on: EvaluateOn = "original",
    seed: int = 0,
    chunk: int = 2_000_000,
) -> SimulationResult:
    """Monte-Carlo check of the closed forms.

    Each trial draws ``n_train`` d-dimensional points per class from the model, replaces them by
    same-class mixups (``same_class_mixup``; none when ``lam`` is None), fixes w = 1 / sqrt(d)
    (the optimal direction, module docstring: w is *not* fitted) and fits b by exact minimisation
    of the empirical eps-adversarial 0-1 risk (``fit_threshold_erm``, class-conditional risks
    weighted alpha / 1 - alpha since the classes are sampled n_train each; eps = 0 is natural
    training). A sample's adversarial error is y(<w, x> + b) - eps ||w||_1 <= 0, the exact worst
    case of an L-inf attack on a linear classifier.

    One test set of ``n_test`` points per class is drawn from the original distribution
    (``test_on="original"``) or, with ``test_on="mixup"``, from the mixed one (disjoint pairs
    of fresh points mixed with ``lam``), and every trial's classifier is evaluated on it. It comes
    from its own stream of ``seed``, so runs with the same seed and different ``lam`` / ``eps``
    share the test set (paired comparisons). Reported risk = mean over trials; its standard error
    sqrt(s^2 / n_trials + p (1 - p) / n_test) combines the trial-to-trial spread s (training
    noise; ERM thresholds converge slowly, at rate n_train^(-1/3)) with the binomial variance of
    the shared test set. The ERM threshold also has a finite-sample bias, which shrinks faster
    (observed roughly n_train^(-2/3)): at the defaults (checked over 5 seeds x 15 settings:
    mean z-score -0.04, sd 1.1) it is negligible; with n_train of a few thousand it can reach 1-3
    standard errors.
    """
    _check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps)
    if test_on not in ("original", "mixup"):
        raise ValueError(f"test_on must be 'original' or 'mixup', got {test_on!r}")
    if n_train < 1 or n_test < 1 or n_trials < 1:
        raise ValueError("n_train, n_test and n_trials must be positive")
    test_seq, train_seq = np.random.SeedSequence(seed).spawn(2)
    rng_test, rng_train = np.random.default_rng(test_seq), np.random.default_rng(train_seq)
    shift = eps * math.sqrt(d)  # eps ||w||_1 with w = 1 / sqrt(d)

    tests = []
    for mean, sigma in ((mu_pos, sigma_pos), (-mu_neg, sigma_neg)):
        if test_on == "mixup" and lam is not None:
            z = _project(mean, sigma, 2 * n_test, d, rng_test, chunk)
            lam_i = _draw_lam(lam, n_test, rng_test)
            z = lam_i * z[:n_test] + (1.0 - lam_i) * z[n_test:]
        else:
            z = _project(mean, sigma, n_test, d, rng_test, chunk)
        tests.append(np.sort(z))
    z_pos_test, z_neg_test = tests

    thresholds = np.empty(n_trials)
    nat = np.empty((n_trials, 2))
    adv = np.empty((n_trials, 2))
    sqrt_d = math.sqrt(d)
    for t in range(n_trials):
        x_pos = same_class_mixup(
            sample_class(n_train, mu_pos, sigma_pos, d, rng_train), lam, rng_train
        )
        x_neg = same_class_mixup(
            sample_class(n_train, -mu_neg, sigma_neg, d, rng_train), lam, rng_train
        )
        b = fit_threshold_erm(x_pos.sum(1) / sqrt_d, x_neg.sum(1) / sqrt_d, alpha, shift)
        thresholds[t] = b
        for row, s in ((nat, 0.0), (adv, shift)):
            # class +1 errs iff z + b - s <= 0; class -1 errs iff z >= -b - s
            row[t, 0] = np.searchsorted(z_pos_test, s - b, side="right") / n_test
            row[t, 1] = 1.0 - np.searchsorted(z_neg_test, -b - s, side="left") / n_test

    def summary(values: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
        mean = values.mean(axis=0)
        spread = values.var(axis=0, ddof=1) / n_trials if n_trials > 1 else 0.0
        se = np.sqrt(spread + mean * (1.0 - mean) / n_test)
        return (float(mean[0]), float(mean[1])), (float(se[0]), float(se[1]))

    nat_mean, nat_se = summary(nat)
    adv_mean, adv_se = summary(adv)
    return SimulationResult(nat_mean, nat_se, adv_mean, adv_se, thresholds, nat, adv, n_test)


# --------------------------------------------------------------------------------------------
# figure data
# --------------------------------------------------------------------------------------------

_BASE = {"sigma_pos": 1.0, "sigma_neg": 1.0, "alpha": 0.7, "lam": 0.5}

FIGURES: dict[str, dict] = {
    # Fig. 1(a): natural risks of natural vs mixup training against |mu_pos + mu_neg|
    "1a": {
        **_BASE,
        "risk": "natural",
        "x_name": "|mu_pos + mu_neg|",
        "x": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5],
        "d": 10,
        "eps": 0.0,
    },
    # Fig. 1(b): adversarial risks of AT vs mixup AT against eps at |mu_pos + mu_neg| = 1
    "1b": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "eps",
        "x": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35],
        "d": 10,
        "mu_sum": 1.0,
    },
    # Fig. 2(a): adversarial risks of AT vs mixup AT against |mu_pos + mu_neg| at eps = 0.1
    "2a": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "|mu_pos + mu_neg|",
        "x": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.45, 1.6, 1.8],
        "d": 10,
        "eps": 0.1,
    },
    # Fig. 2(b): adversarial risks of AT vs mixup AT against d, |mu_pos + mu_neg| = 0.5, eps = 0.1
    "2b": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "d",
        "x": [4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
        "mu_sum": 0.5,
        "eps": 0.1,
    },
}
"""Sweeps of the paper's Figures 1(a), 1(b), 2(a), 2(b). The paper states only the swept
variable (its captions); the fixed values are the project's choice: sigma_pos = sigma_neg = 1
(Remarks 1-4 are about equal variances), alpha = 0.7 (with equal variances the class gap comes
from the prior; alpha > 1/2 makes the paper's K positive), lam = 0.5 (g = 1/2, the largest
variance reduction), mu_pos = mu_neg = |mu_pos + mu_neg| / 2 (only the sum matters), d = 10
and eps = 0.1 where not swept. Ranges keep mu_pos + mu_neg - 2 eps > 0 and the risks inside
roughly (0.002, 0.85)."""


def _figure_point(spec: dict, x: float) -> dict:
    kind = spec["x_name"]
    params = {k: spec[k] for k in ("sigma_pos", "sigma_neg", "alpha")}
    mu_sum = x if kind == "|mu_pos + mu_neg|" else spec["mu_sum"]
    params.update(
        mu_pos=mu_sum / 2.0,
        mu_neg=mu_sum / 2.0,
        d=int(x) if kind == "d" else spec["d"],
        eps=float(x) if kind == "eps" else spec["eps"],
    )
    return params


def figure_data(
    kind: str,
    *,
    simulate: bool = True,
    n_train: int = 50_000,
    n_test: int = 200_000,
    n_trials: int = 8,
    seed: int = 0,
    include_paper_printed: bool = False,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Tidy data of the paper's Figure ``kind`` in {"1a", "1b", "2a", "2b"} (spec in
    ``FIGURES``; ``overrides`` replaces entries of it, e.g. ``{"lam": "uniform"}``).

    Columns: ``figure``, ``x_name``, ``x``, ``source`` ("closed_form", "simulation" and, with
    ``include_paper_printed``, "paper_printed"), ``training`` ("standard" | "mixup": natural
    training for 1(a), eps-adversarial training for the others), ``cls`` (+1 | -1),
    ``risk_type`` ("natural" | "adversarial"), ``risk``, ``se`` (0 for the formulas).

    "closed_form" and "simulation" measure risks on the original (un-mixed) test distribution.
    "paper_printed" is Theorem 3 / 4 (Propositions 1 / 2 for standard training) as printed,
    which measures the mixup-trained classifier on mixed data; with the default equal variances
    it equals the exact closed form evaluated on mixed data. Simulations use the same seed, hence
    the same test set, for both trainings at a point. The fixed parameters are in
    ``DataFrame.attrs["params"]``.
    """
    if kind not in FIGURES:
        raise ValueError(f"unknown figure {kind!r}; choose from {sorted(FIGURES)}")
    spec = {**FIGURES[kind], **(overrides or {})}
    risk_type = spec["risk"]
    rows = []
    for x in spec["x"]:
        p = _figure_point(spec, x)
        eps = p["eps"] if risk_type == "adversarial" else 0.0
        for training, lam in (("standard", None), ("mixup", spec["lam"])):
            common = {"figure": kind, "x_name": spec["x_name"], "x": x, "training": training}
            args = (p["mu_pos"], p["mu_neg"], p["sigma_pos"], p["sigma_neg"], p["alpha"], p["d"])
            closed = adversarial_risks_closed_form(*args, eps, lam)
            results = [("closed_form", closed, (0.0, 0.0))]
            if include_paper_printed and not isinstance(lam, str):
                results.append(
                    ("paper_printed", adversarial_risks_paper_theorem4(*args, eps, lam), (0.0, 0.0))
                )
            if simulate:
                sim = simulate_classwise_risks(
                    *args, eps, lam, n_train=n_train, n_test=n_test, n_trials=n_trials, seed=seed
                )
                if risk_type == "natural":
                    results.append(("simulation", sim.natural, sim.natural_se))
                else:
                    results.append(("simulation", sim.adversarial, sim.adversarial_se))
            for source, risks, ses in results:
                for cls, risk, se in zip((1, -1), risks, ses, strict=True):
                    rows.append(
                        {
                            **common,
                            "source": source,
                            "cls": cls,
                            "risk_type": risk_type,
                            "risk": risk,
                            "se": se,
                        }
                    )
    df = pd.DataFrame(rows)
    df = df[["figure", "x_name", "x", "source", "training", "cls", "risk_type", "risk", "se"]]
    df.attrs["params"] = {k: v for k, v in spec.items() if k not in ("x",)}
    return df
