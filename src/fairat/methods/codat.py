"""CODAT: Class Optimal Distribution Adversarial Training (Zhi et al., arXiv 2501.04527;
docs/specification.md#codat). The paper publishes no code.

Per batch, H_k is the mean cross-entropy of the PGD examples (``steps`` steps of size
``step_size`` if set, else ``step_ratio`` x eps, from a uniform random start, CE attack; the
paper configs set ``step_size: 0.007``, the step of the TRADES it is compared with) over the
batch samples of class k, for the K classes present in the batch. The class weights are the worst case over a chi-square
ball around the uniform distribution::

    max_p sum_k p_k H_k   s.t.  p in the simplex,  D(p || uniform) = K sum_k (p_k - 1/K)^2 <= eta.

While every weight is non-negative the solution is the paper's closed form (its Section 4.2,
Theorem 1 and Eq. 8) p*_k = (1/K)(1 + sqrt(eta)(H_k - mean H)/std H) (population std over the
present classes) and the objective is mean H + sqrt(eta Var H). Defaults: eta 0.3 (the paper's
value for ResNet-18; 0.8 for WRN-34-10), PGD-10 training. The loss is sum_k p*_k H_k with p*
detached: by Danskin's theorem its gradient equals the gradient of the maximum (and, in the
closed-form regime, of mean H + sqrt(eta Var H)).

The project's readings ([choice] in docs/specification.md#choices):

- when the closed form would give a negative weight (large eta), the K-dimensional problem is
  solved exactly (simplex intersected with the chi-square ball; KKT active-set solution in
  ``_codat_weights``) and sum p*_k H_k is used with p* detached;
- if std H = 0 the weights are uniform; if the ball contains the uniform distribution over the
  classes of largest risk, that distribution is used (every optimum then has the value max H);
- classes absent from a batch take no part in that batch's problem (K = classes present).

Logged each epoch (``method_state.csv``): ``p_<class>`` = the mean of p*_k over the epoch's
batches, a class absent from a batch counting as weight 0 for that batch (so each row sums to 1).
The paper's "Fairness Elasticity Coefficient" is not implemented (its formula is unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods._codat_weights import worst_case_weights
from fairat.methods.base import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Method,
    Range,
    TrainContext,
    class_names_state,
)
from fairat.methods.pgd_at import pgd_attack
from fairat.methods.registry import METHODS


def class_risks(
    ce: torch.Tensor, y: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H, present)``: per-class mean of ``ce`` for the classes present in the batch, and the
    boolean mask (num_classes,) of those classes (H is ordered by class index)."""
    counts = torch.bincount(y, minlength=num_classes)
    sums = torch.zeros(num_classes, dtype=ce.dtype, device=ce.device).index_add(0, y, ce)
    present = counts > 0
    return sums[present] / counts[present].to(ce.dtype), present


def codat_objective(
    ce: torch.Tensor, y: torch.Tensor, num_classes: int, eta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, p_full)``: sum_k p*_k H_k with p* detached, and p* over all classes (0 if absent)."""
    h, present = class_risks(ce, y, num_classes)
    p = worst_case_weights(h, eta)
    p_full = torch.zeros(num_classes, dtype=p.dtype, device=p.device)
    p_full[present] = p
    return (p.to(h.dtype) * h).sum(), p_full


@METHODS.register("codat")
class CODAT(Method):
    @dataclass(frozen=True)
    class Params:
        eta: float = 0.3
        steps: int = 10
        step_ratio: float = 0.25
        step_size: float | None = None

        RANGES: ClassVar[dict[str, Range]] = {
            "eta": NON_NEGATIVE,
            "steps": AT_LEAST_ONE,
            "step_ratio": POSITIVE,
            "step_size": POSITIVE,
        }

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        self._reset_epoch_weights()

    def _reset_epoch_weights(self) -> None:
        self.p_sum = torch.zeros(self.ctx.num_classes, dtype=torch.float64, device=self.ctx.device)
        self.batches = 0

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        x_adv = pgd_attack(
            self, model, x, y, steps=p.steps, step_ratio=p.step_ratio, step_size=p.step_size
        )
        ce = F.cross_entropy(model(x_adv).float(), y, reduction="none")
        loss, p_full = codat_objective(ce, y, self.ctx.num_classes, p.eta)
        self.p_sum += p_full
        self.batches += 1
        return loss

    def on_epoch_start(self, epoch: int) -> None:
        super().on_epoch_start(epoch)
        self._reset_epoch_weights()

    def epoch_weights(self) -> torch.Tensor:
        """Mean of p* over this epoch's batches (absent classes count 0), shape (num_classes,)."""
        return self.p_sum / max(self.batches, 1)

    def log_state(self) -> dict[str, float]:
        return class_names_state("p", self.epoch_weights(), self.ctx.class_names)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "p_sum": self.p_sum.clone(), "batches": self.batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.p_sum = state["p_sum"].to(self.ctx.device, torch.float64)
        self.batches = int(state["batches"])
