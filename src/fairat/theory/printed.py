"""Paper 001's Theorems 3-4 and Remarks 1-3 *as printed* (Zhong & Tandon, arXiv 2411.14424;
docs/specification.md#theory), beside the exact closed forms of ``closed_forms``, to show where
and by how much they differ.

Where the paper's printed forms differ from the derivation
----------------------------------------------------------
1. Remark 1 (eq. 16-17) and Remark 3 (eq. 22-23) drop the term -A / sqrt(g) from the argument
   of Phi: they print Delta = |2 Phi(-B sqrt(g)) - 1| whereas the derivation gives
   |Phi(-A/sqrt(g) + B sqrt(g)) - Phi(-A/sqrt(g) - B sqrt(g))|, which is smaller whenever A > 0.
   The conclusion (mixup shrinks the gap) still holds: the exact gap is increasing in B and
   decreasing in A, and mixup raises A and lowers B (on the original distribution it only lowers
   B, to g B). ``natural_gap_paper_remark1`` / ``adversarial_gap_paper_remark3`` return the
   printed forms, ``closed_forms.classwise_gap`` the exact one.
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
   M' = d^2 Delta^2 is the same expression and is right. See ``closed_forms.ordering_bound``.
"""

from __future__ import annotations

import math

from scipy.special import ndtr

from fairat.theory.closed_forms import (
    check_params,
    gaussian_class_risks,
    log_odds,
    mixup_variance_factor,
)


def _fixed_g(lam: float | None) -> float:
    """g(lam) of a fixed coefficient; 1 without mixup (``lam=None``)."""
    return 1.0 if lam is None else mixup_variance_factor(lam)


def _paper_threshold(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps, g) -> float:
    """t* / s* exactly as printed (eq. 14-15/28 and 19/36), in the paper's units z = sum_i x_i."""
    mp, mn = mu_pos - eps, mu_neg - eps
    if sigma_pos == sigma_neg:  # eq. 29 / 36, K = d log(alpha / (1 - alpha))
        k = d * log_odds(alpha)
        return (-(d**2) * (mp * mp - mn * mn) + 2.0 * k * sigma_pos**2 * g) / (2.0 * d * (mp + mn))
    k = d * log_odds(alpha, sigma_pos, sigma_neg)
    vp, vn = sigma_pos**2, sigma_neg**2
    inner = 1.0 + 2.0 * k * g * (vn - vp) / (mp + mn) ** 2
    if inner < 0:
        return math.nan
    # the paper's M (eq. 19); -d(mu_pos s-^2 + mu_neg s+^2) at eps=0
    big_m = -d * (mp * vn + mn * vp)
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
    check_params(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps)
    g = _fixed_g(lam)
    t = _paper_threshold(mu_pos, mu_neg, sigma_pos, sigma_neg, alpha, d, eps, g)
    scale = math.sqrt(d * g)
    a, c = d * (mu_pos - eps), d * (mu_neg - eps)
    return gaussian_class_risks(t, a, c, scale * sigma_pos, scale * sigma_neg)


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
    check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, eps)
    g = _fixed_g(lam)
    k = d * log_odds(alpha)
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
    K = d log(alpha / (1 - alpha)); the derivation gives d^4 (``closed_forms.ordering_bound``)."""
    check_params(mu_pos, mu_neg, sigma, sigma, alpha, d, 0.0)
    k = d * log_odds(alpha)
    return d**2 * (mu_pos + mu_neg) ** 4 / (4.0 * k * k * sigma**4)
