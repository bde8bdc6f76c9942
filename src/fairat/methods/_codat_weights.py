"""The inner maximisation of CODAT: the worst-case class distribution in a chi-square ball.

Problem (K = number of classes present in the batch, H the per-class adversarial risks)::

    maximise   sum_k p_k H_k
    subject to p_k >= 0,  sum_k p_k = 1,  D(p || uniform) = K sum_k (p_k - 1/K)^2 <= eta.

KKT: the optimum is p_k = max(0, 1/K + t (H_k - nu)) for some t >= 0 and shift nu, so its support
S is the s classes of largest risk. On a support of size s the constraints give

    p_k = 1/s + t (H_k - mean_S H),   t = sqrt(((1 + eta)/K - 1/s) / sum_S (H_k - mean_S H)^2),

and the right s is the one whose weights are non-negative on S while the first excluded class
would get a weight <= 0. With s = K this is the paper's closed form
p_k = (1/K)(1 + sqrt(eta)(H_k - mean H)/std H), value mean H + sqrt(eta Var H) (population
variance). Special case: when the ball contains the uniform distribution over the m classes of
largest risk (eta >= K/m - 1, in particular std H = 0 where m = K) that distribution is returned
(any optimal point has the value max H; this is the one closest to uniform among them).

The problem is convex, so a KKT point is the exact maximiser; everything runs in float64, is
vectorised over the candidate supports and does not synchronise with the device.
"""

from __future__ import annotations

import torch

_TOL = 1e-12


def worst_case_weights(h: torch.Tensor, eta: float) -> torch.Tensor:
    """The maximiser p* (shape (K,), float64, same device) of the problem in the module docstring."""
    if h.ndim != 1 or h.shape[0] == 0:
        raise ValueError(f"expected a non-empty vector of class risks, got shape {tuple(h.shape)}")
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    h = h.detach().to(torch.float64)
    k = h.shape[0]
    hs, order = torch.sort(h, descending=True)
    s = torch.arange(1, k + 1, dtype=torch.float64, device=h.device)
    mean_s = torch.cumsum(hs, 0) / s
    # Sums of squared deviations of every top-s prefix, used only to pick the support; the
    # weights of the chosen support are recomputed below from its deviations.
    ss_s = (torch.cumsum(hs * hs, 0) - s * mean_s * mean_s).clamp_min(0.0)
    need = (1.0 + eta) / k - 1.0 / s
    t = torch.sqrt(need.clamp_min(0.0) / ss_s.clamp_min(1e-300))
    p_last = 1.0 / s + t * (hs - mean_s)
    h_next = torch.cat([hs[1:], hs.new_full((1,), float("-inf"))])
    p_next = torch.where(
        torch.isinf(h_next), torch.full_like(hs, -1.0), 1.0 / s + t * (h_next - mean_s)
    )
    scale = hs.abs().max().clamp_min(1.0)
    violation = (
        (-need).clamp_min(0.0)
        + (-p_last).clamp_min(0.0)
        + p_next.clamp_min(0.0)
        + (ss_s <= _TOL * scale * scale).to(torch.float64)
    )
    best = torch.argmin(violation)  # the valid support (violation 0); smallest s if several
    size = (best + 1).to(torch.float64)
    in_support = torch.arange(k, device=h.device) < size
    mean_b = (hs * in_support).sum() / size
    dev = torch.where(in_support, hs - mean_b, torch.zeros_like(hs))
    t_b = torch.sqrt(need[best].clamp_min(0.0) / (dev * dev).sum().clamp_min(1e-300))
    p_sorted = torch.where(in_support, 1.0 / size + t_b * dev, torch.zeros_like(hs)).clamp_min(0.0)

    # eta large enough for the uniform distribution over the argmax classes (or std H = 0).
    top = hs == hs[0]
    m = top.sum().to(torch.float64)
    face = top.to(torch.float64) / m
    p_sorted = torch.where(eta >= k / m - 1.0 - 1e-12, face, p_sorted)

    p_sorted = p_sorted / p_sorted.sum()
    p = torch.empty_like(p_sorted)
    p[order] = p_sorted
    return p


def chi2_divergence(p: torch.Tensor) -> torch.Tensor:
    """D(p || uniform) = K sum_k (p_k - 1/K)^2."""
    k = p.shape[-1]
    return k * ((p - 1.0 / k) ** 2).sum(-1)
