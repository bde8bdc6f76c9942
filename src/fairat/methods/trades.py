"""TRADES (Zhang et al. 2019; code yaodongyu/TRADES, ``trades.py`` ``trades_loss``, lines 17-84).

Loss: CE(f(x), y) + beta * KL(p(x) || p(x_adv)) with batchmean reduction (lines 79-83), where
x_adv starts at x + 0.001 * N(0, 1) and ascends the KL for ``steps`` steps in eval mode, each a
signed step projected onto the eps-ball and [0, 1] (lines 28-41). Defaults: beta = 6, K = 10,
step = eps / 4 (the reference's ``train_trades_cifar10.py`` uses beta 6, 10 steps of 0.007 at
eps 0.031, lines 30-37; set ``step_size`` for that). Its recipe (76 epochs, lr 0.1 x0.1 from
epoch 75, lines 20 and 137-147; SGD momentum 0.9 without Nesterov, wd 2e-4, batch 128, lines
16-27 and 153) belongs to the config.

Differences from the reference code: its final loss runs the clean batch through the model twice
in train mode (``model(x_natural)`` for the CE, line 79, and again for the KL, lines 81-82),
which gives the same loss and gradient but updates the BatchNorm running statistics with the
clean batch twice; here each batch goes through once, clean then adversarial
(:func:`trades_terms`). DAFA's and TRIX's ``trades_loss`` also run each batch once, but
adversarial first (rucy74/DAFA ``losses.py`` lines 65-66, Fairness-a11y/TRIX ``losses.py`` lines
67-68), so the running statistics after a batch weight the two batches the other way round. Both
differ only in the eval-mode statistics, not in any training gradient.

This module is the home of the TRADES family (DAFA, TRIX, CFA, WAT, FRL): their hyper-parameters
extend :class:`TradesParams` (beta and the KL attack's steps and step), :func:`trades_attack` is
the KL attack every one of them runs (per-class radii and steps from the method's context), and
:func:`trades_terms` returns the per-sample CE and KL that each weights its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods.base import (
    ALL_EPOCHS,
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Method,
    Range,
    same_fields,
)
from fairat.methods.registry import METHODS


@dataclass(frozen=True)
class TradesParams:
    """The hyper-parameters every TRADES-family method shares (docs/specification.md#baselines): the KL
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

    @classmethod
    def prefix_epochs(cls, params: Any, other: type[Method], other_params: Any) -> int:
        """Shared prefixes (``Method.prefix_epochs``): TRADES never reads the run's epoch count,
        so two TRADES runs with the same hyper-parameters compute the same epochs for as long
        as their lr agrees (checked by :mod:`fairat.training.prefixes`), whatever their lengths."""
        same = other is cls and same_fields(params, other_params, TradesParams)
        return ALL_EPOCHS if same else 0

    def adversarial(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return trades_attack(self, model, x, y)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ce, kl = trades_terms(model, x, self.adversarial(model, x, y), y)
        return ce.mean() + self.params.beta * kl.mean()
