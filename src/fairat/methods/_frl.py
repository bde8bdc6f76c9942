"""FRL, Fair-Robust-Learning (docs/specification.md#frl): the logic shared by ``frl_rw`` and ``frl_rwrm``.

Xu, Liu, Li, Jain & Tang, "To be Robust or to be Fair: Towards Fairness in Adversarial
Training", ICML 2021 (arXiv 2010.06121); reference code github.com/hannxu123/fair_robust as of
its last change (27 April 2022): ``frlrw.py`` and ``frlrmrw.py`` with ``utils_frl.py`` /
``utils_frl2.py`` (``frl_train``, ``cost_sensitive``, ``normalize_lambda``, ``train_model``).

FRL fine-tunes a robust checkpoint (``init_from = "trades"``: the trainer loads the ``last``
checkpoint of the TRADES run of the same dataset, model, eps and seed) with a TRADES loss whose
classes are re-weighted, and for the remargin variant re-sized, by Lagrange multipliers of the
fairness constraints "class i's natural / boundary error exceeds the average by at most tau".
Before every training epoch, on the validation split (``ctx.x_val``, ``ctx.y_val``), with the
current model in eval mode:

- acc_i (clean) and advacc_i (PGD-``val_steps``, CE, uniform start, step eps/4, common radius
  eps: the reference's ``configs1`` at 8/255 with step 2/255, ``frlrw.py`` lines 38-44) per
  class (``evaluate``, ``utils_frl.py`` lines 135-181);
- R_nat(i) = 1 - acc_i, R_bdy(i) = acc_i - advacc_i; the averages are over all validation
  samples (the reference's ``total_clean_error`` / ``total_bndy_error``);
- gamma0 = R_nat(i) - avg R_nat - tau, gamma1 = R_bdy(i) - avg R_bdy - tau;
- lambda0 += alpha1 gamma0, lambda1 += 2 alpha1 gamma1, then each of lambda0 and lambda1 is
  clamped at 0 and rescaled to sum lim if its sum exceeds lim (``utils_frl.py`` lines 275-280
  and 304-311); remargin only: lambda2 += alpha2 gamma1 (neither clamped nor rescaled, as the
  reference, ``utils_frl2.py`` line 241);
- w0_i = 1/K + lambda0_i - (1/K) sum_j lambda0_j, likewise w1 from lambda1 (weights sum to 1);
  remargin: eps_i = eps * clamp(exp(2 lambda2_i), eps_min, eps_max), [0.98, 3] by default
  (``cost_sensitive``, ``utils_frl2.py`` lines 73-96);
- alpha1 is halved every ``alpha_halve_every`` epochs: the update before 1-based epoch n uses
  alpha1 / 2^(n // alpha_halve_every) (the reference's ``if now_epoch % 40 == 0: rate1 /= 2``,
  ``frlrw.py`` lines 85-86).

The training loss of a batch, with x_adv the TRADES KL attack (x + 0.001 N(0, 1) start,
``steps`` steps, each sample projected onto its class's eps_y ball) is

    sum_k w0[y_k] CE_k / sum_k w0[y_k]  +  beta * sum_k w1[y_k] KL_k / sum_k w1[y_k]

(``loss_norm = "separate"``: docs/specification.md#frl, and the reference's ``train_model``, ``utils_frl.py``
lines 243-244 and ``utils_frl2.py`` line 208); ``loss_norm = "joint"`` gives the form the
reference used before its change of 27 April 2022 (commit 8e6429a),
``sum_k (w0[y_k] CE_k + beta w1[y_k] KL_k) / sum_k (w0[y_k] + w1[y_k])``, which is half the
separate form when the weights are uniform.

Timing: the reference validates and updates at the start of each epoch, the first update
included (so epoch 1 already trains with multipliers from the initial checkpoint). Here the
update before epoch 1 runs on the first ``loss()`` call of the run (the trainer gives the method
no model before that) and every later update in ``on_epoch_end`` on ``stats.model`` (the model
that was just validated, i.e. the one the next epoch starts from). ``log_state`` therefore reports
the multipliers, weights and radii after the epoch's update, i.e. those the next epoch uses.

Project readings ([choice]) where the paper and code are silent:

- [choice] A class with no validation sample keeps its multipliers (gamma = 0 for it); the
  reference divides by zero.
- [choice] The validation attack draws its random start from a generator seeded by the epoch, so
  it leaves the training RNG stream untouched; validation runs in batches of 256.

Differences from the reference code, and why:

- ``loss_norm`` defaults to the separate normalisation of docs/specification.md#frl and the current reference;
  the reference's earlier joint one is available as ``"joint"``.
- The attack step of a class scales with its radius (``Method.step_for``: step_ratio x eps_y, or
  ``step_size`` x eps_y / eps), the project's convention for per-class radii. The reference's
  remargin attack steps a quarter of the *largest* radius in the batch for every sample
  (``utils_frl2.py`` line 162, ``torch.max(new_eps) / 4``); its reweight-only attack, where every
  radius is eps, steps 2/255 (``frlrw.py`` lines 30-36).
- The random start of the training attack is projected onto the ball and [0, 1] (``perturb``);
  the reference clamps only after the first step (0.001-scale noise: only pixels at 0 or 1
  differ).
- Per-class accuracies divide by the true class counts (docs/specification.md#conventions), as the reference.
- The reference's loss runs the clean batch through the model twice in train mode
  (``utils_frl.py`` lines 238-239), which moves only the BatchNorm running statistics; here once.
- The reference's recipe (40 epochs, SGD lr 1e-3, momentum 0.9, wd 5e-4, MultiStepLR [40, 80]
  stepped after each epoch, batch 128: ``frlrw.py`` lines 26-27, 90 and 98-99) belongs to the
  config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.attacks import pgd
from fairat.attacks.precision import full_precision
from fairat.methods.base import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    EpochStats,
    Method,
    Range,
    TrainContext,
    class_names_state,
)
from fairat.methods.trades import TradesParams, trades_attack, trades_terms

VAL_BATCH = 256
LOSS_NORMS = ("separate", "joint")


@dataclass(frozen=True)
class FRLParams(TradesParams):
    """Hyper-parameters of ``frl_rw`` (defaults: docs/specification.md#frl, CIFAR-10)."""

    beta: float = 1.5
    tau: float = 0.1
    alpha1: float = 0.05
    alpha_halve_every: int = 40
    lim: float = 0.5
    val_steps: int = 20
    loss_norm: str = "separate"

    RANGES: ClassVar[dict[str, Range]] = {
        **TradesParams.RANGES,
        "tau": NON_NEGATIVE,
        "alpha1": POSITIVE,
        "alpha_halve_every": NON_NEGATIVE,  # 0: never halved
        "lim": NON_NEGATIVE,
        "val_steps": AT_LEAST_ONE,
    }

    def __post_init__(self) -> None:
        if self.loss_norm not in LOSS_NORMS:
            raise ValueError(
                f"loss_norm: {self.loss_norm!r} is not allowed; valid values: "
                f"{', '.join(LOSS_NORMS)}"
            )


def normalise_multipliers(lam: torch.Tensor, lim: float) -> torch.Tensor:
    """Clamp at 0; if the sum then exceeds ``lim``, rescale so that it equals ``lim``."""
    lam = lam.clamp(min=0.0)
    total = lam.sum()
    return lam * (lim / total) if total > lim else lam


def frl_update(
    lambdas: torch.Tensor,
    acc: torch.Tensor,
    advacc: torch.Tensor,
    params: Any,
    *,
    alpha1: float | None = None,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """One multiplier update from per-class validation accuracies; returns new (3, K) lambdas.

    ``lambdas`` rows are lambda0 (natural error), lambda1 (boundary error), lambda2 (radius).
    ``acc``/``advacc`` are per-class clean and robust accuracies; the averages they are compared
    with weight each class by ``counts`` (its number of validation samples; equal weights when
    None). ``alpha1`` overrides ``params.alpha1`` (the halved rate); ``params.alpha2`` (remargin
    only; absent means 0) moves lambda2.
    """
    acc = acc.to(lambdas)
    advacc = advacc.to(lambdas)
    present = torch.ones_like(acc) if counts is None else (counts.to(lambdas) > 0).to(lambdas)
    share = present if counts is None else counts.to(lambdas)
    share = share / share.sum()
    r_nat = 1.0 - acc
    r_bdy = acc - advacc
    gamma0 = (r_nat - (share * r_nat).sum() - params.tau) * present
    gamma1 = (r_bdy - (share * r_bdy).sum() - params.tau) * present
    a1 = params.alpha1 if alpha1 is None else alpha1
    lam0 = normalise_multipliers(lambdas[0] + a1 * gamma0, params.lim)
    lam1 = normalise_multipliers(lambdas[1] + 2.0 * a1 * gamma1, params.lim)
    lam2 = lambdas[2] + getattr(params, "alpha2", 0.0) * gamma1
    return torch.stack([lam0, lam1, lam2])


def frl_weights(lambdas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class weights (w0, w1): w_i = 1/K + lambda_i - (1/K) sum_j lambda_j for rows 0 and 1."""
    k = lambdas.shape[1]
    w = 1.0 / k + lambdas[:2] - lambdas[:2].sum(dim=1, keepdim=True) / k
    return w[0], w[1]


def frl_eps_scale(lambda2: torch.Tensor, low: float = 0.98, high: float = 3.0) -> torch.Tensor:
    """Remargin factor of each class's radius: clamp(exp(2 lambda2), low, high)."""
    return torch.exp(2.0 * lambda2).clamp(min=low, max=high)


def class_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    eps: float,
    steps: int,
    clamp: bool,
    generator: torch.Generator | None,
    batch_size: int = VAL_BATCH,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class clean and PGD-``steps`` accuracy (eval mode) and class counts, float64 (K,)."""
    was_training = model.training
    model.eval()
    correct = torch.zeros(num_classes, dtype=torch.float64, device=y.device)
    robust = torch.zeros_like(correct)
    try:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            with torch.no_grad():
                ok = model(xb).argmax(dim=1) == yb
            x_adv = pgd(model, xb, yb, eps=eps, steps=steps, generator=generator, clamp=clamp)
            with torch.no_grad():
                ok_adv = model(x_adv).argmax(dim=1) == yb
            correct += torch.bincount(yb[ok], minlength=num_classes).to(correct)
            robust += torch.bincount(yb[ok_adv], minlength=num_classes).to(robust)
    finally:
        model.train(was_training)
    counts = torch.bincount(y, minlength=num_classes).to(correct)
    n = counts.clamp(min=1)
    return correct / n, robust / n, counts


class FRLBase(Method):
    """TRADES fine-tuning with FRL's class weights (and, if ``remargin``, class radii)."""

    init_from: ClassVar[str | None] = "trades"
    init_methods: ClassVar[tuple[str, ...]] = ("trades", "pgd_at")  # docs/specification.md#frl
    remargin: ClassVar[bool] = False

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        k = ctx.num_classes
        self.lambdas = torch.zeros(3, k, dtype=torch.float64, device=ctx.device)
        self.updates = 0  # multiplier updates so far (the first runs before epoch 1)
        self.w0 = self.w1 = torch.full((k,), 1.0 / k, device=ctx.device)
        self._refresh()

    # --- multipliers --------------------------------------------------------------------------
    def alpha1_for(self, epoch_number: int) -> float:
        """The rate of the update made before 1-based epoch ``epoch_number``."""
        every = self.params.alpha_halve_every
        halvings = epoch_number // every if every > 0 else 0
        return self.params.alpha1 * 0.5**halvings

    def _refresh(self) -> None:
        w0, w1 = frl_weights(self.lambdas)
        self.w0 = w0.to(torch.float32)
        self.w1 = w1.to(torch.float32)
        if self.remargin:
            p = self.params
            scale = frl_eps_scale(self.lambdas[2], p.eps_min, p.eps_max)
            self.ctx.class_eps = (self.ctx.eps * scale).to(torch.float32)

    def _update(self, model: nn.Module, epoch_number: int) -> None:
        """Validate ``model`` and update the multipliers for 1-based epoch ``epoch_number``."""
        ctx = self.ctx
        if len(ctx.y_val) == 0:
            raise ValueError(f"[{self.name}] FRL needs a validation split (val_fraction > 0)")
        generator = torch.Generator(device=ctx.x_val.device).manual_seed(epoch_number)
        with full_precision(ctx.device):  # inside a bf16 training step too
            acc, advacc, counts = class_accuracy(
                model,
                ctx.x_val,
                ctx.y_val,
                ctx.num_classes,
                eps=ctx.eps,
                steps=self.params.val_steps,
                clamp=ctx.clamp,
                generator=generator,
            )
        self.lambdas = frl_update(
            self.lambdas,
            acc,
            advacc,
            self.params,
            alpha1=self.alpha1_for(epoch_number),
            counts=counts,
        )
        self.updates += 1
        self._refresh()

    @classmethod
    def idle_mechanism(cls, params: Any, state: list[dict[str, float]]) -> str | None:
        multipliers = [v for row in state for k, v in row.items() if k.startswith("lambda")]
        if multipliers and all(v == 0 for v in multipliers):
            return "multipliers stayed 0: the fine-tune was plain TRADES"
        return None

    # --- training -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.updates == 0:  # the reference updates before the first epoch as well
            self._update(model, self.ctx.epoch + 1)
        p = self.params
        ce, kl = trades_terms(model, x, trades_attack(self, model, x, y), y)
        w0, w1 = self.w0[y], self.w1[y]
        if p.loss_norm == "joint":
            return (w0 * ce + p.beta * w1 * kl).sum() / (w0 + w1).sum()
        return (w0 * ce).sum() / w0.sum() + p.beta * (w1 * kl).sum() / w1.sum()

    def on_epoch_end(self, stats: EpochStats) -> None:
        if stats.model is None:
            raise ValueError(f"[{self.name}] on_epoch_end needs EpochStats.model")
        self._update(stats.model, stats.epoch + 2)  # for the next epoch, 1-based

    # --- logging and resume -------------------------------------------------------------------
    def log_state(self) -> dict[str, float]:
        names = self.ctx.class_names
        state = {
            **class_names_state("w0", self.w0, names),
            **class_names_state("w1", self.w1, names),
            **class_names_state("eps", self.ctx.class_eps, names),
        }
        for row in range(3 if self.remargin else 2):
            state.update(class_names_state(f"lambda{row}", self.lambdas[row], names))
        state["alpha1"] = self.alpha1_for(self.ctx.epoch + 2)
        return state

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "lambdas": self.lambdas, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.lambdas = state["lambdas"].to(device=self.ctx.device, dtype=torch.float64)
        self.updates = int(state["updates"])
        self._refresh()
