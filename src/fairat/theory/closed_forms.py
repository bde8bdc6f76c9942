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

The paper's printed forms, where they differ from this derivation, are in ``printed``; the
Monte-Carlo check is in ``simulation``, the data of the paper's figures in ``figure_data``.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

Lam = float | str | None
"""Mixup coefficient: ``None`` (no mixup), a fixed value in [0, 1], or ``"uniform"``
(lam ~ Uniform[0, 1] independently per mixed pair, the project's default, docs/specification.md#mixup-at)."""

EvaluateOn = Literal["original", "mixup"]

_QUAD_NODES = 64  # Gauss-Legendre nodes for expectations over lam ~ Uniform[0, 1]
_ONE = np.ones(1)  # the weights of a single Gaussian, for gaussian_class_risks


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


def variance_factors(lam: Lam) -> tuple[np.ndarray, np.ndarray]:
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


def check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps) -> None:
    """Raise ValueError unless 0 < alpha < 1, both sigmas are positive, d >= 1, eps >= 0 and
    mu_pos + mu_neg - 2 eps > 0 (the range where the module docstring's derivation holds)."""
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


def log_odds(alpha, s_pos=1.0, s_neg=1.0) -> float:
    """log(alpha s_neg / ((1 - alpha) s_pos)): L of the module docstring. d times it is the
    paper's K (eq. 14-15, 19), d log(alpha / (1 - alpha)) for equal variances (the defaults)."""
    return math.log(alpha * s_neg / ((1.0 - alpha) * s_pos))


def gaussian_class_risks(b, a, c, s_pos, s_neg, weights=_ONE):
    """(R+, R-) of "+1 iff z + b > 0" when z | y=+1 ~ N(a, s_pos^2) and z | y=-1 ~ N(-c, s_neg^2):
    R+ = Phi((-b - a) / s_pos), R- = Phi((b - c) / s_neg) (paper eq. 26-27, 32, 34). For classes
    that are mixtures of such Gaussians, s_pos and s_neg are arrays of the components' standard
    deviations and ``weights`` their weights. b may be +-inf, a float or an array (then the risks
    are arrays too)."""
    b_arr = np.asarray(b, dtype=np.float64)[..., None]
    with np.errstate(invalid="ignore"):
        r_pos = ndtr((-b_arr - a) / s_pos) @ weights
        r_neg = ndtr((b_arr - c) / s_neg) @ weights
    if np.ndim(b) == 0:
        return float(r_pos), float(r_neg)
    return r_pos, r_neg


def _risks_1d(b, a, c, s_pos, s_neg, g_nodes, g_weights):
    """``gaussian_class_risks`` after same-class mixup: both class variances scaled by g, which is
    distributed as (g_nodes, g_weights)."""
    root = np.sqrt(g_nodes)
    return gaussian_class_risks(b, a, c, s_pos * root, s_neg * root, g_weights)


def _normal_density(u, s):
    """Density at u s of N(0, s^2), given the standardised u."""
    return np.exp(-0.5 * u * u) / (math.sqrt(2 * math.pi) * s)


def _risk_slope_1d(b, a, c, s_pos, s_neg, alpha, g_nodes, g_weights) -> float:
    """d/db of alpha R+(b) + (1 - alpha) R-(b)."""
    sp, sn = s_pos * np.sqrt(g_nodes), s_neg * np.sqrt(g_nodes)
    dens_pos = _normal_density((b + a) / sp, sp)
    dens_neg = _normal_density((b - c) / sn, sn)
    return float(g_weights @ (-alpha * dens_pos + (1.0 - alpha) * dens_neg))


def _stationary_thresholds(a, c, s_pos, s_neg, alpha) -> list[float]:
    """Real roots of D b^2 + 2 P b + Q = 0 (module docstring), cancellation-free."""
    big_l = log_odds(alpha, s_pos, s_neg)
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
    g_nodes, g_weights = variance_factors(lam)

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
    check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps)
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
    g_nodes, g_weights = variance_factors(lam)
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
    at test time and as in ``simulation.simulate_classwise_risks``. For equal variances this is
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
    place of the printed d^2 (``printed.remark2_bound_paper``). Only the first inequality needs it; on
    the original distribution the chain holds for every lam."""
    check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, eps)
    k = d * log_odds(alpha)
    delta = mu_pos + mu_neg - 2.0 * eps
    return d**4 * delta**4 / (4.0 * k * k * sigma**4)
