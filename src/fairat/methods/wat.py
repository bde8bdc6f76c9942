"""WAT: worst-class adversarial training on TRADES (docs/specification.md#wat).

Li & Liu, "WAT: Improve the Worst-class Robustness in Adversarial Training", AAAI 2023;
reference code github.com/boqili/WAT (``worst_class_adversarial_train.py``, below ``train.py``
for short; ``attack_generator.py`` ``trades``, lines 45-69), run with ``--alg wat``.

WAT plays an exponential-weights (Hedge) game over K + 1 "experts": the K classes and the
average. After each epoch, on the validation split, with the current model (``stats.model``) in
eval mode and the TRADES KL attack of training (x + 0.001 N(0, 1) start, ``steps`` steps):

- cost_c = mean over class-c validation samples of CE(f(x), y) + beta KL(p(x) || p(x_adv)),
  cost_avg = the same mean over all validation samples (``validate``, train.py lines 117-163);
- the costs are summed over epochs (C = cumulative cost, K + 1 entries) and the weights are
  w = K * softmax(eta * C) over the K + 1 entries (reference: ``class_num * exp(eta C) / sum``,
  train.py lines 242-248).

The training loss of a batch of B samples, with l_k = CE_k + beta KL_k the per-sample TRADES
terms (``trades_terms``), is

    sum_c w_c * (sum over class-c samples of l_k) / B  +  w_avg * mean_k l_k

(train.py lines 89-105).

Before the first update every weight is 1 (the reference's initial ``torch.ones(K + 1)``), so
epoch 1 trains on twice the TRADES loss (lines 202-203). Defaults: beta 6, eta 0.1 (lines 25 and
37), attack of 10 steps of eps/4 (the reference uses 0.007 at eps 0.031, lines 20-22: set
``step_size``). The reference's recipe (100 epochs, lr 0.1 x0.1 from epoch 75, x0.01 from 90,
lines 16, 18 and 165-177 with ``epoch + 1``, line 240; SGD momentum 0.9 without Nesterov, wd
2e-4, lines 17, 19 and 208; batch 128, line 26; a validation split of 300 training images per
class, ``data_loader.py``) belongs to the config. ``log_state`` reports the weights
after the epoch's update (those the next epoch uses), this epoch's costs and the cumulative ones.

Project readings ([choice]) where the paper and code are silent:

- [choice] Class costs divide by the true class counts (docs/specification.md#conventions). The reference
  multiplies the class sum by K / (batches x batch size) and divides the average's sum by
  batches x batch size (train.py lines 151-157): for its 3,000 validation images in 24 batches
  of 128 that is 3,072, so every reference cost, and with it eta, is scaled by 3,000 / 3,072
  (0.977). A class with no validation sample gets cost 0 that epoch.
- [choice] The validation attack draws its random start from a generator seeded by the epoch,
  so it leaves the training RNG stream untouched; validation runs in batches of 256.

Differences from the reference code: the random start is projected onto the ball and [0, 1]
(``perturb``); the reference clamps only after the first step (``attack_generator.py`` lines
48-67).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.attacks.precision import full_precision
from fairat.methods.base import (
    NON_NEGATIVE,
    EpochStats,
    Method,
    Range,
    TrainContext,
    class_names_state,
)
from fairat.methods.registry import METHODS
from fairat.methods.trades import TradesParams, trades_attack, trades_terms

VAL_BATCH = 256


def wat_weights(cum_cost: torch.Tensor, eta: float) -> torch.Tensor:
    """Hedge weights over K + 1 entries (K classes, then the average): K * softmax(eta * C)."""
    k = cum_cost.numel() - 1
    return k * torch.softmax(eta * cum_cost, dim=0)


@METHODS.register("wat")
class WAT(Method):
    @dataclass(frozen=True)
    class Params(TradesParams):
        eta: float = 0.1

        RANGES: ClassVar[dict[str, Range]] = {**TradesParams.RANGES, "eta": NON_NEGATIVE}

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        k = ctx.num_classes
        self.weights = torch.ones(k + 1, device=ctx.device)
        self.cum_cost = torch.zeros(k + 1, dtype=torch.float64, device=ctx.device)
        self.cost = torch.zeros(k + 1, dtype=torch.float64, device=ctx.device)

    def adversarial(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return trades_attack(self, model, x, y, generator=generator)

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ce, kl = trades_terms(model, x, self.adversarial(model, x, y), y)
        per_sample = ce + self.params.beta * kl
        k = self.ctx.num_classes
        return (self.weights[:k][y] * per_sample).mean() + self.weights[k] * per_sample.mean()

    def validation_cost(self, model: nn.Module, epoch: int) -> torch.Tensor:
        """Per-class and average validation TRADES cost of ``model`` (eval mode), (K + 1,)."""
        ctx, k = self.ctx, self.ctx.num_classes
        if len(ctx.y_val) == 0:
            raise ValueError("[wat] WAT needs a validation split (val_fraction > 0)")
        generator = torch.Generator(device=ctx.x_val.device).manual_seed(epoch)
        sums = torch.zeros(k, dtype=torch.float64, device=ctx.y_val.device)
        was_training = model.training
        model.eval()
        try:
            for start in range(0, len(ctx.y_val), VAL_BATCH):
                xb = ctx.x_val[start : start + VAL_BATCH]
                yb = ctx.y_val[start : start + VAL_BATCH]
                with full_precision(ctx.device):  # inside a bf16 training step too
                    x_adv = self.adversarial(model, xb, yb, generator)
                    with torch.no_grad():
                        ce, kl = trades_terms(model, xb, x_adv, yb)
                cost = (ce + self.params.beta * kl).double()
                sums.index_add_(0, yb, cost)
        finally:
            model.train(was_training)
        counts = torch.bincount(ctx.y_val, minlength=k).double()
        per_class = sums / counts.clamp(min=1)
        average = sums.sum() / counts.sum()
        return torch.cat([per_class, average.view(1)]).to(self.cum_cost.device)

    def on_epoch_end(self, stats: EpochStats) -> None:
        if stats.model is None:
            raise ValueError("[wat] on_epoch_end needs EpochStats.model (the validated model)")
        self.cost = self.validation_cost(stats.model, stats.epoch)
        self.cum_cost = self.cum_cost + self.cost
        self.weights = wat_weights(self.cum_cost, self.params.eta).to(torch.float32)

    # --- logging and resume -------------------------------------------------------------------
    def log_state(self) -> dict[str, float]:
        names = self.ctx.class_names
        k = self.ctx.num_classes
        return {
            **class_names_state("weight", self.weights[:k], names),
            "weight_avg": float(self.weights[k]),
            **class_names_state("cost", self.cost[:k], names),
            "cost_avg": float(self.cost[k]),
            **class_names_state("cum_cost", self.cum_cost[:k], names),
            "cum_cost_avg": float(self.cum_cost[k]),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "weights": self.weights,
            "cum_cost": self.cum_cost,
            "cost": self.cost,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        device = self.ctx.device
        self.weights = state["weights"].to(device)
        self.cum_cost = state["cum_cost"].to(device)
        self.cost = state["cost"].to(device)
