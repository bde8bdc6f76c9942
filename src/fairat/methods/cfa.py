"""CFA: class-wise calibrated fair adversarial training on TRADES (docs/specification.md#cfa).

Wei, Wang, Guo & Wang, "CFA: Class-wise Calibrated Fair Adversarial Training", CVPR 2023;
reference code github.com/PKU-ML/CFA (``train.py``; ``attack.py`` ``cw_trades_loss``, lines
110-150; ``utils.py`` ``weight_average``, lines 115-124), run as ``--mode TRADES --ccm --ccr``
with its FAWA model.

Three parts, with r_c the *training* robust accuracy of class c in the previous epoch (the
fraction of class-c training samples whose adversarial example x_adv the model, in train mode,
classified correctly in the loss's forward pass; counted in ``loss()``, reset every epoch, as the
reference's ``train_result[3]``, ``train.py`` lines 96 and 198):

- CCM (class-wise calibrated margin): eps_c = (lam1 + r_c) * eps for the TRADES KL attack
  (random start x + 0.001 N(0, 1), ``steps`` steps, projection onto the class's ball;
  ``train.py`` line 199, ``attack.py`` lines 123-132).
- CCR (class-wise calibrated regularisation): beta'_c = (lam2 + r_c) beta / (1 + (lam2 + r_c) beta)
  and the loss mean_k [(1 - beta'_{y_k}) CE(f(x_k), y_k) + beta'_{y_k} KL(p(x_k) || p(x_adv_k))]
  (the reference sums each term divided by the batch size; ``train.py`` line 206, ``attack.py``
  lines 138-148).
- FAWA (fairness-aware weight averaging): after each epoch, if the worst-class robust accuracy
  of the *current* model on the validation split is at least ``fawa_threshold``, the average
  becomes decay * average + (1 - decay) * current (every floating-point entry of the state dict,
  BatchNorm running statistics included); the first passing epoch initialises the average with
  a copy of the current weights; a failing epoch leaves it unchanged (reference
  ``weight_average`` called with decay 1, ``train.py`` lines 249-257).

Epochs 1..``warmup_epoch`` (10, the reference's ``--begin 10``: calibration applies to 0-based
epochs >= 10, ``train.py`` lines 196 and 204) are TRADES with the common radius and
beta' = beta / (1 + beta) for every class, i.e. TRADES divided by (1 + beta), as the reference's
uncalibrated ``class_beta`` (lines 147 and 208); this keeps the loss on one scale before and after
calibration starts. Defaults: beta 6, lam1 = lam2 = 0.5, FAWA decay 0.88 (``train.py`` lines 30,
38-39, 43) and threshold 0.2 (docs/specification.md#cfa and the README's example command; the argparse
default, line 44, is 0.24), attack of 10 steps of eps/4 (2/255 at 8/255, as the reference, lines
25-27). The reference's recipe (PreAct ResNet-18, 200 epochs, lr 0.1 x0.1 at 50 % and x0.01 at
75 % of them, lines 20-22 and 121-127; SGD momentum 0.9, wd 5e-4, no Nesterov, line 180; batch
128, line 19) belongs to the config.

How FAWA maps onto the trainer's hooks: ``validation_model`` is the default (the current
model), so ``EpochStats.val_robust`` (per-class accuracy under the trainer's PGD-``select_steps``
on the validation split; the reference uses PGD-10) describes the current model and decides
whether this epoch enters the average, as in the reference. ``checkpoint_weights`` returns the
FAWA average once at least one epoch has entered it (the raw weights before), so **``last.pt``
and ``best.pt`` hold the FAWA weights**, the model CFA reports. ``best.pt`` is chosen by
validating the weights it saves: once an average exists, ``saves_other_weights`` is true and
the trainer validates the average itself with the same PGD-``select_steps`` (an extra validation
pass per epoch), so the selected weights are the validated ones (docs/specification.md#conventions). The
average is part of ``state_dict()`` so a resumed run continues it.

Project readings ([choice]) where the paper and code are silent:

- [choice] Class accuracies use the true class counts (docs/specification.md#conventions); the reference
  divides by N / K. A class absent from an epoch's training batches gets r_c = 0.
- [choice] Calibration needs a previous epoch, so epoch 1 is never calibrated
  (``warmup_epoch`` < 1 acts as 1).
- [choice] Integer buffers (BatchNorm ``num_batches_tracked``) are not averaged: the average
  takes the current model's value (the reference averages them in floating point and truncates).

Differences from the reference code, and why:

- The attack step of a class scales with its radius (``Method.step_for``), the project's
  convention for per-class radii; the reference keeps the step at 2/255.
- The random start is projected onto the ball and [0, 1] (``perturb``); the reference clamps only
  after the first step.
- The reference's ``train_epoch`` also runs a train-mode forward of the clean batch after each
  optimiser step for its clean-accuracy log (``train.py`` line 98), and its loss runs the clean
  batch twice (``attack.py`` lines 138 and 143); both move only the BatchNorm running statistics.
  Here each batch goes through the model once in the loss (``trades_terms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.methods.base import (
    FRACTION,
    NON_NEGATIVE,
    EpochStats,
    Method,
    Range,
    TrainContext,
    class_names_state,
)
from fairat.methods.registry import METHODS
from fairat.methods.trades import TradesParams, trades_attack, trades_terms


def cfa_eps(r: torch.Tensor, eps: float, lam1: float) -> torch.Tensor:
    """CCM radii: eps_c = (lam1 + r_c) * eps."""
    return (lam1 + r) * eps


def cfa_beta(r: torch.Tensor, beta: float, lam2: float) -> torch.Tensor:
    """CCR weights of the KL term: beta'_c = (lam2 + r_c) beta / (1 + (lam2 + r_c) beta)."""
    b = (lam2 + r) * beta
    return b / (1.0 + b)


def _unwrap(model: nn.Module) -> nn.Module:
    """The module behind ``torch.compile`` (whose state-dict keys carry a prefix)."""
    return getattr(model, "_orig_mod", model)


@METHODS.register("cfa")
class CFA(Method):
    @dataclass(frozen=True)
    class Params(TradesParams):
        lam1: float = 0.5
        lam2: float = 0.5
        warmup_epoch: int = 10
        fawa_threshold: float = 0.2
        fawa_decay: float = 0.88

        RANGES: ClassVar[dict[str, Range]] = {
            **TradesParams.RANGES,
            "lam1": NON_NEGATIVE,
            "lam2": NON_NEGATIVE,
            "warmup_epoch": NON_NEGATIVE,
            "fawa_threshold": FRACTION,
            "fawa_decay": FRACTION,
        }

    @classmethod
    def check_epochs(cls, params: Any, epochs: int, where: str) -> None:
        if params.warmup_epoch >= epochs:
            raise ValueError(
                f"{where}.warmup_epoch: {params.warmup_epoch} is not below the run's {epochs} "
                "epochs: calibration starts after the warm-up, so the run would be TRADES "
                f"divided by (1 + beta); give 0..{epochs - 1}"
            )

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        k = ctx.num_classes
        self.class_beta = torch.full((k,), params.beta / (1.0 + params.beta), device=ctx.device)
        self.train_robust = torch.zeros(k, device=ctx.device)
        self.calibrated = False
        self.fawa: dict[str, torch.Tensor] | None = None
        self.fawa_used = False
        self.fawa_epochs = 0
        self._reset_counts()

    def _reset_counts(self) -> None:
        k = self.ctx.num_classes
        self.correct = torch.zeros(k, dtype=torch.long, device=self.ctx.device)
        self.seen = torch.zeros(k, dtype=torch.long, device=self.ctx.device)

    # --- training -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = trades_attack(self, model, x, y)
        ce, kl, logits_adv = trades_terms(model, x, x_adv, y, return_logits=True)
        k = self.ctx.num_classes
        hit = logits_adv.detach().argmax(dim=1) == y
        self.correct += torch.bincount(y[hit], minlength=k)
        self.seen += torch.bincount(y, minlength=k)
        b = self.class_beta[y]
        return ((1.0 - b) * ce + b * kl).mean()

    def on_epoch_start(self, epoch: int) -> None:
        super().on_epoch_start(epoch)
        self._reset_counts()

    def on_epoch_end(self, stats: EpochStats) -> None:
        p = self.params
        self.train_robust = self.correct.float() / self.seen.clamp(min=1).float()
        next_epoch = stats.epoch + 2  # 1-based number of the epoch these values are for
        self.calibrated = next_epoch > max(p.warmup_epoch, 1)
        if self.calibrated:
            self.ctx.class_eps = cfa_eps(self.train_robust, self.ctx.eps, p.lam1)
            self.class_beta = cfa_beta(self.train_robust, p.beta, p.lam2)
        self.fawa_used = bool(stats.val_robust.min() >= p.fawa_threshold)
        if self.fawa_used:
            if stats.model is None:
                raise ValueError("[cfa] FAWA needs EpochStats.model (the validated model)")
            self._average(_unwrap(stats.model).state_dict())

    def _average(self, current: dict[str, torch.Tensor]) -> None:
        decay = self.params.fawa_decay
        if self.fawa is None:
            self.fawa = {k: v.detach().clone() for k, v in current.items()}
        else:
            for key, value in current.items():
                value = value.detach()
                if value.is_floating_point():
                    self.fawa[key] = decay * self.fawa[key] + (1.0 - decay) * value
                else:
                    self.fawa[key] = value.clone()
        self.fawa_epochs += 1

    def checkpoint_weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The FAWA average once an epoch has entered it, else the current weights."""
        if self.fawa is None:
            return model.state_dict()
        return dict(self.fawa)

    @classmethod
    def idle_mechanism(cls, params: Any, state: list[dict[str, float]]) -> str | None:
        if not any(row.get("calibrated") for row in state):
            return "never calibrated: every epoch was warm-up"
        if not max((row.get("fawa_epochs", 0) for row in state), default=0):
            return (
                "FAWA never averaged: no epoch reached the worst-class validation robust "
                f"accuracy of {params.fawa_threshold:g}"
            )
        return None

    def saves_other_weights(self) -> bool:
        return self.fawa is not None

    # --- logging and resume -------------------------------------------------------------------
    def log_state(self) -> dict[str, float]:
        names = self.ctx.class_names
        return {
            **class_names_state("eps", self.ctx.class_eps, names),
            **class_names_state("beta", self.class_beta, names),
            **class_names_state("train_robust", self.train_robust, names),
            "calibrated": float(self.calibrated),
            "fawa_used": float(self.fawa_used),
            "fawa_epochs": float(self.fawa_epochs),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "class_beta": self.class_beta,
            "train_robust": self.train_robust,
            "calibrated": self.calibrated,
            "fawa": self.fawa,
            "fawa_used": self.fawa_used,
            "fawa_epochs": self.fawa_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        device = self.ctx.device
        self.class_beta = state["class_beta"].to(device)
        self.train_robust = state["train_robust"].to(device)
        self.calibrated = bool(state["calibrated"])
        fawa = state["fawa"]
        self.fawa = None if fawa is None else {k: v.to(device) for k, v in fawa.items()}
        self.fawa_used = bool(state["fawa_used"])
        self.fawa_epochs = int(state["fawa_epochs"])
