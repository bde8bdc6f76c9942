"""DAFA: distance-aware fair adversarial training on TRADES (docs/specification.md#dafa).

Lee, Lee, Jang, Park, Bae & Yoon, "DAFA: Distance-Aware Fair Adversarial Training", ICLR 2024
(arXiv 2401.12532); reference code github.com/rucy74/DAFA: ``losses.py`` ``trades_loss`` (lines
15-83), ``utils.py`` ``calculate_class_weights`` (lines 35-53), ``train.py`` (the warm-up
bookkeeping, lines 90-94 and 234-235) and ``scripts/trades_dafa.sh``.

Epochs 1..tau (``warmup_epoch``, 1-based; 70 of 110 in the paper) are plain TRADES. During epoch
tau the softmax of the *adversarial* training logits (the train-mode forward of x_adv in the loss,
detached) is accumulated per true class; P_i(j) is the mean of p_j over all class-i samples of
that epoch. At the end of epoch tau the class weights

    W_i = 1 + lam * sum_{j != i} ( P_i(i) < P_j(j) ?  P_i(j) P_j(j)  :  -P_j(i) P_i(i) )

are computed once and frozen (``fairat.methods._dafa_weights``; ``utils.py`` lines 45-51, the
second branch as fixed upstream on 2 September 2024, commit 74657cd). From epoch tau + 1 on,
class y gets radius eps_y = W_y eps and step alpha_y = W_y alpha in the TRADES KL attack (random
start x + 0.001 N(0, 1), ``steps`` steps, projection onto the class's ball and [0, 1];
``losses.py`` lines 39-58), and the loss is mean_k W_{y_k} CE(f(x_k), y_k) + beta * mean_k
KL(p(x_k) || p(x_adv_k)) (lines 65-76); the KL is unweighted. Defaults: beta 6, lam 1.0, warm-up
70 (``arguments.py`` lines 57, 61-62; CIFAR-10; line 62's help gives lam 1.5 for CIFAR-100 and
STL-10, set it in the config), alpha = eps / 4 (the reference uses 0.007 at eps 0.031,
``arguments.py`` lines 50 and 54: set ``step_size``).

Project readings where the paper and code are silent:

- A class absent from epoch tau (impossible with the full training set) gets a zero row in P.
- W is used as computed: not normalised, not clipped (as the reference); a non-positive weight
  only prints a warning.
- Ties P_i(i) == P_j(j) take the subtracting branch (as the reference's ``if a < b ... else``).

Differences from the reference code, and why:

- None in the weights: the second branch subtracts ``lam * P_j(i) * P_i(i)`` (the amount class j
  gains from i, so that weight is traded between similar classes and sums to K) in the
  reference's current ``utils.py`` (line 51), in the TRIX fork's (``Fairness-a11y/TRIX``
  ``utils.py`` line 32) and here. Before its 2 September 2024 fix the reference subtracted
  ``lam * P_i(j) * P_j(j)``; code or numbers from that version differ in this term.
- The reference ``madry_loss`` (the PGD variant, ``losses.py`` lines 86-135) takes a second,
  unscaled step inside each iteration and projects onto the common eps-ball (lines 113-114),
  which cancels the per-class margin. That bug is not copied: every step here uses the class's
  step and ball (one ``perturb`` call per batch).
- The reference does not project its random start onto the ball; ``perturb`` does (a 0.001-scale
  noise, so only pixels at 0 or 1 are affected).
- The reference keeps the softmax per training-set index (``losses.py`` lines 79-81); this keeps
  per-class sums over the batches of epoch tau, which is the same mean since every sample is
  seen once per epoch.
- The reference's recipe (110 epochs, ``arguments.py`` line 32; lr x0.1 from epoch 100 and x0.01
  from 105, ``train.py`` lines 156-160; SGD momentum 0.9, wd 5e-4, batch 128; Nesterov momentum,
  ``train.py`` line 32 flips the ``store_true`` flag of ``arguments.py`` line 45) belongs to the
  config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.methods._dafa_weights import DafaSchedule, DafaWeighted
from fairat.methods.base import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    Method,
    Range,
    TrainContext,
    same_fields,
    same_until,
)
from fairat.methods.registry import METHODS
from fairat.methods.trades import TRADES, TradesParams, trades_attack


@METHODS.register("dafa")
class DAFA(DafaWeighted):
    @dataclass(frozen=True)
    class Params(TradesParams):
        lam: float = 1.0
        warmup_epoch: int = 70

        RANGES: ClassVar[dict[str, Range]] = {
            **TradesParams.RANGES,
            "lam": NON_NEGATIVE,
            "warmup_epoch": AT_LEAST_ONE,
        }

    @classmethod
    def prefix_epochs(cls, params: Any, other: type[Method], other_params: Any) -> int:
        """Shared prefixes (``Method.prefix_epochs``): the first ``warmup_epoch - 1`` epochs are
        TRADES with the same beta and attack (weights 1, radius eps: the weighted CE times 1 is
        the CE bit for bit), and the DAFA state after them is the fresh one. Epoch
        ``warmup_epoch`` itself is not shared: it records the softmax and ends by computing the
        weights with ``lam``, and its ``method_state.csv`` row logs them. Two DAFA runs that
        differ only in ``lam`` or ``warmup_epoch`` share the epochs before the earlier warm-up
        epoch."""
        if not same_fields(params, other_params, TradesParams):
            return 0
        if other is TRADES:
            return params.warmup_epoch - 1
        if other is cls:
            tau = min(params.warmup_epoch, other_params.warmup_epoch) - 1
            return same_until(params, other_params, {"lam": tau, "warmup_epoch": tau})
        return 0

    @classmethod
    def branch_points(cls, params: Any) -> tuple[int, ...]:
        """``Method.branch_points``: ``lam`` and ``warmup_epoch`` are unread before epoch
        ``warmup_epoch`` (see ``prefix_epochs``)."""
        return (params.warmup_epoch - 1,)

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        self.schedule = DafaSchedule(
            ctx, lam=params.lam, warmup_epoch=params.warmup_epoch, where="methods.dafa"
        )

    def adversarial(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return trades_attack(self, model, x, y)
