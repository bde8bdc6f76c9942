"""TRADES (Zhang et al. 2019; code yaodongyu/TRADES).

Loss: CE(f(x), y) + beta * KL(p(x) || p(x_adv)) with batchmean reduction, where x_adv starts at
x + 0.001 * N(0, 1) and ascends the KL for ``steps`` steps in eval mode. Defaults: beta = 6,
K = 10, step = eps / 4 (the reference uses 0.007 at eps = 0.031; set ``step_size`` for that).

This module is the home of the TRADES family (DAFA, TRIX, CFA, WAT, FRL): their hyper-parameters
extend :class:`TradesParams` (beta and the KL attack's steps and step), :func:`trades_attack` is
the KL attack every one of them runs (per-class radii and steps from the method's context), and
:func:`trades_terms` returns the per-sample CE and KL that each weights its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods.base import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Method, Range
from fairat.methods.registry import METHODS


@dataclass(frozen=True)
class TradesParams:
    """The hyper-parameters every TRADES-family method shares (METHODS.md section 1): the KL
    weight ``beta`` and the attack's ``steps``, with step ``step_size`` if set (the reference's
    0.007), else ``step_ratio`` x eps; both scale with a per-class radius."""

    beta: float = 6.0
    steps: int = 10
    step_ratio: float = 0.25
    step_size: float | None = None

    RANGES: ClassVar[dict[str, Range]] = {
        "beta": NON_NEGATIVE,
        "steps": AT_LEAST_ONE,
        "step_ratio": POSITIVE,
        "step_size": POSITIVE,
    }


def trades_attack(
    method: Method,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TRADES's KL attack for ``method``: from x + 0.001 N(0, 1), ``steps`` ascent steps on
    KL(p(x) || p(x_adv)) within each sample's class radius (``Method.eps_for``), step
    ``Method.step_for``; the model is put in eval mode inside ``perturb``."""
    p = method.params
    return perturb(
        model,
        x,
        y,
        eps=method.eps_for(y),
        step_size=method.step_for(y, p.step_ratio, p.step_size),
        steps=p.steps,
        loss="kl",
        random_start="normal",
        generator=generator,
        clamp=method.ctx.clamp,
    )


def trades_terms(
    model: nn.Module,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    y: torch.Tensor,
    *,
    return_logits: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Per-sample natural CE and KL(p(x) || p(x_adv)), each of shape (B,), in train mode.

    Clean and adversarial batches go through separate forward passes, as in the reference code,
    so BatchNorm sees each batch on its own. With ``return_logits`` the adversarial logits of
    that training forward come third (DAFA records their softmax; CFA their accuracy).
    """
    logits_nat = model(x).float()
    logits_adv = model(x_adv).float()
    ce = F.cross_entropy(logits_nat, y, reduction="none")
    kl = F.kl_div(
        F.log_softmax(logits_adv, dim=1), F.softmax(logits_nat, dim=1), reduction="none"
    ).sum(dim=1)
    return (ce, kl, logits_adv) if return_logits else (ce, kl)


@METHODS.register("trades")
class TRADES(Method):
    Params = TradesParams

    def adversarial(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return trades_attack(self, model, x, y)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ce, kl = trades_terms(model, x, self.adversarial(model, x, y), y)
        return ce.mean() + self.params.beta * kl.mean()
