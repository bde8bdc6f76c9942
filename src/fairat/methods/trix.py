"""TRIX: mixed targeted/untargeted TRADES with DAFA class weights (docs/specification.md#trix).

Medi, Jung & Keuper, "TRIX: Trading Adversarial Fairness via Mixed Adversarial Training",
arXiv 2507.07768; reference code github.com/Fairness-a11y/TRIX, a fork of github.com/rucy74/DAFA:
``losses.py`` ``mixed_trades_loss`` (lines 90-203, selected by ``--loss mixed``),
``losses.py`` ``calculate_class_weights_from_clean`` (lines 258-294, the per-batch strength),
``utils.py`` ``calculate_class_weights`` (lines 18-33, the DAFA weights) and ``train.py``.

Per batch, with p = softmax(f(x)) of the clean inputs in eval mode and without gradients:

1. S[i][j] = mean of p_j over the batch's class-i samples (zero row if absent), S += 1e-8 I
   (``losses.py`` lines 271-282);
2. t_i = 1 + sum_{j != i} ( S_ii < S_jj ? +lam S_ij S_jj : -lam S_ji S_ii ), lam = ``lam``
   (lines 285-292);
3. sample k is *strong* if t_{y_k} < mean_k t_{y_k} (mean over the batch's samples, line 127).
   Strong samples get a targeted attack toward y_t drawn uniformly from the K - 1 other classes
   (once per batch, fixed over the steps, lines 135-141), descending CE(f(x_adv), y_t); the
   others (*weak*) get the untargeted TRADES KL ascent. Both start at x + 0.001 N(0, 1) (line
   112) and take ``steps`` steps (lines 143-173).
4. Radius and step per class: eps_y = W_y eps, alpha_y = W_y alpha (lines 167-172) with the DAFA
   weights W (``fairat.methods._dafa_weights``): all ones through warm-up epoch tau
   (``warmup_epoch``, 1-based; ``--dafa_warmup``), then computed once from the training
   adversarial softmax of epoch tau (``train.py`` lines 74-76 and 202-203, ``losses.py`` lines
   200-202; strength ``dafa_lam``, ``--dafa_lambda``) and frozen.
5. Loss: mean_k W_{y_k} CE(f(x_k), y_k) + beta * mean_k KL(p(x_k) || p(x_adv_k)), beta = 6
   (lines 179-197).

Attack assignment (``assignment``), for the paper's ablation (docs/specification.md#trix-ablation):

- ``similarity`` (default): step 3, TRIX itself;
- ``untargeted``: every sample gets the KL attack (the paper's TRIX-Basic). With the DAFA weights
  of step 4 this is DAFA on the run's recipe: the same computation, step for step, as the
  ``dafa`` method (tests/test_trix.py);
- ``targeted``: every sample gets the targeted attack toward a uniformly drawn other class (the
  paper's TRIX-Uniform).

Only the assignment changes: the DAFA weights, radii, steps and loss of steps 4-5 stay (set
``dafa_lam: 0`` for unit weights). ``lam`` acts only under ``similarity``. The reference code
has no switch for the two ablation settings (``--loss`` is ``trades``, ``pgd`` or ``mixed``).

``mix_from_epoch``: the assignment is active in the epochs whose 1-based number is >
``mix_from_epoch``; before that every sample gets the untargeted TRADES attack. The default 0
applies it from the first epoch, as the reference code does (``train.py`` lines 91-93 call
``mixed_trades_loss`` in every epoch); the paper's text describes a TRADES warm-up first
(docs/specification.md#trix asks for the switch; set it to ``warmup_epoch`` for that reading).

Project readings where the paper and code are silent: those of DAFA (zero rows in P for absent
classes, W neither normalised nor clipped, ties take the subtracting branch), and: the targeted
and untargeted parts run as two ``perturb`` calls on the two subsets, reassembled in batch order.
With the model in eval mode the samples do not interact, so this is the reference's joint loop
with a per-sample sign, except that the random starts are drawn per subset.

Differences from the reference code:

- The per-batch strength ``lam`` is 1.0 there (``calculate_class_weights_from_clean`` is called
  without ``lamb``, lines 117-121); here it is a parameter (default 1). Any ``lam`` > 0 gives the
  same split (t = 1 + lam s is below its batch mean exactly when s is), so only its sign matters;
  the lambda the paper varies is ``dafa_lam`` (the reference's ``--dafa_lambda``), which scales
  the class weights, radii and steps.
- Targets there are drawn by rejection (uniform labels redrawn while equal to y); here
  y_t = (y + U{1, ..., K-1}) mod K, the same distribution.
- The reference's KL terms clamp the clean probabilities at 1e-10 and add 1e-10 to the
  adversarial logits (lines 153-155 and 188-190; its ``trades_loss``, lines 43 and 75-76, adds
  1e-10 to the probabilities instead); this does neither (neither changes the attack's gradient
  signs, nor the loss beyond rounding).
- The reference does not project its random start onto the ball; ``perturb`` does (a 0.001-scale
  noise, so only pixels at 0 or 1 are affected).
- The reference's recipe (150 epochs, ``arguments.py`` line 32; lr x0.1 from epoch 140 and x0.01
  from 145, ``train.py`` lines 136-140; Nesterov momentum, ``train.py`` line 20) belongs to the
  config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.attacks import perturb
from fairat.attacks.precision import full_precision
from fairat.methods._dafa_weights import (
    DafaSchedule,
    DafaWeighted,
    class_similarity,
    dafa_weights,
)
from fairat.methods.base import (
    ALL_EPOCHS,
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Method,
    Range,
    TrainContext,
    class_names_state,
    same_fields,
    same_until,
)
from fairat.methods.dafa import DAFA
from fairat.methods.registry import METHODS
from fairat.methods.trades import TRADES, TradesParams

SIMILARITY_DIAGONAL = 1e-8
# which samples get the targeted attack (module docstring, "Attack assignment")
ASSIGNMENTS = ("similarity", "untargeted", "targeted")


def trix_strength(
    probs: torch.Tensor, y: torch.Tensor, num_classes: int, lam: float
) -> torch.Tensor:
    """t (K,) of steps 1-2 of the module docstring from clean probabilities of one batch."""
    sim = class_similarity(probs, y, num_classes, diag=SIMILARITY_DIAGONAL)
    return dafa_weights(sim, lam)


def strong_mask(probs: torch.Tensor, y: torch.Tensor, num_classes: int, lam: float) -> torch.Tensor:
    """Boolean (B,): the samples whose class strength t_y is below the batch mean of t_y."""
    t = trix_strength(probs, y, num_classes, lam)[y]
    return t < t.mean()


def draw_targets(
    y: torch.Tensor, num_classes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A label uniformly from the classes other than y, for each sample."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator, device=y.device)
    return (y + shift) % num_classes


@METHODS.register("trix")
class TRIX(DafaWeighted):
    @dataclass(frozen=True)
    class Params(TradesParams):
        lam: float = 1.0
        dafa_lam: float = 1.0
        warmup_epoch: int = 70
        mix_from_epoch: int = 0
        assignment: str = "similarity"

        def __post_init__(self) -> None:
            if self.assignment not in ASSIGNMENTS:
                raise ValueError(
                    f"assignment: {self.assignment!r} is not allowed; valid values: "
                    f"{', '.join(ASSIGNMENTS)}"
                )

        RANGES: ClassVar[dict[str, Range]] = {
            **TradesParams.RANGES,
            "lam": POSITIVE,  # only its sign moves the split (module docstring)
            "dafa_lam": NON_NEGATIVE,
            "warmup_epoch": AT_LEAST_ONE,
            "mix_from_epoch": NON_NEGATIVE,
        }

    @classmethod
    def check_epochs(cls, params: Any, epochs: int, where: str) -> None:
        super().check_epochs(params, epochs, where)
        if params.mix_from_epoch >= epochs:
            raise ValueError(
                f"{where}.mix_from_epoch: {params.mix_from_epoch} leaves none of the run's "
                f"{epochs} epochs mixing targeted attacks in (mixing runs in the epochs after "
                f"it): the run would be DAFA-weighted TRADES; give 0..{epochs - 1}"
            )

    @classmethod
    def prefix_epochs(cls, params: Any, other: type[Method], other_params: Any) -> int:
        """Shared prefixes (``Method.prefix_epochs``). Before epoch ``mix_from_epoch`` + 1 every
        sample gets the untargeted KL attack, which is TRADES's attack on the same inputs (the
        clean softmax is computed once in eval mode either way), and through epoch
        ``warmup_epoch`` - 1 the weights are 1: so TRIX is TRADES, and DAFA, through the
        smaller of the two. With the default ``mix_from_epoch: 0`` that is no epoch, unless
        ``assignment`` is ``untargeted`` (TRIX-Basic), which never targets a sample. Two TRIX
        runs differing in ``dafa_lam`` or ``warmup_epoch`` share the epochs before the
        earlier warm-up epoch (the weights are computed at its end; see DAFA's rule); in
        ``lam`` or ``assignment``, the epochs before mixing starts."""
        if not same_fields(params, other_params, TradesParams):
            return 0
        tau = params.warmup_epoch - 1
        untargeted = params.assignment == "untargeted"
        untargeted_until = ALL_EPOCHS if untargeted else params.mix_from_epoch
        if other is TRADES:
            return min(tau, untargeted_until)
        if other is DAFA:
            return min(tau, other_params.warmup_epoch - 1, untargeted_until)
        if other is cls:
            tau = min(tau, other_params.warmup_epoch - 1)
            mix = min(params.mix_from_epoch, other_params.mix_from_epoch)
            read_from = {"dafa_lam": tau, "warmup_epoch": tau, "lam": mix, "assignment": mix}
            return same_until(params, other_params, {**read_from, "mix_from_epoch": mix})
        return 0

    @classmethod
    def branch_points(cls, params: Any) -> tuple[int, ...]:
        """``Method.branch_points``: ``dafa_lam`` and ``warmup_epoch`` are unread before epoch
        ``warmup_epoch``; ``lam`` and ``assignment`` before epoch ``mix_from_epoch`` + 1 (see
        ``prefix_epochs``)."""
        return (params.warmup_epoch - 1, params.mix_from_epoch)

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        super().__init__(params, ctx)
        if params.mix_from_epoch < 0:
            raise ValueError(
                f"methods.trix.mix_from_epoch: {params.mix_from_epoch} must be >= 0 "
                "(0 mixes from the first epoch)"
            )
        if ctx.num_classes < 2:
            raise ValueError("methods.trix: targeted attacks need at least 2 classes")
        self.schedule = DafaSchedule(
            ctx, lam=params.dafa_lam, warmup_epoch=params.warmup_epoch, where="methods.trix"
        )
        k = ctx.num_classes
        self.targeted = torch.zeros(k, dtype=torch.float64, device=ctx.device)
        self.seen = torch.zeros(k, dtype=torch.float64, device=ctx.device)

    @property
    def mixing(self) -> bool:
        """Whether the current (1-based) epoch number is past ``mix_from_epoch``."""
        return self.ctx.epoch + 1 > self.params.mix_from_epoch

    def targeted_samples(self, p_nat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Boolean (B,): the samples that get the targeted attack in this epoch (``assignment``;
        none before ``mix_from_epoch``)."""
        assignment = self.params.assignment if self.mixing else "untargeted"
        if assignment == "similarity":
            return strong_mask(p_nat, y, self.ctx.num_classes, self.params.lam)
        return torch.full_like(y, assignment == "targeted", dtype=torch.bool)

    def adversarial(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        k = self.ctx.num_classes
        eps = self.eps_for(y)
        step = self.step_for(y, p.step_ratio, p.step_size)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), full_precision(x.device):  # a part of the attack: fp32
                p_nat = torch.softmax(model(x).float(), dim=1)
        finally:
            model.train(was_training)
        strong = self.targeted_samples(p_nat, y)
        onehot = torch.nn.functional.one_hot(y, k).to(torch.float64)
        self.targeted += onehot[strong].sum(dim=0)
        self.seen += onehot.sum(dim=0)

        x_adv = x.detach().clone()
        common = {"steps": p.steps, "random_start": "normal", "clamp": self.ctx.clamp}
        if strong.any():
            ys = y[strong]
            x_adv[strong] = perturb(
                model,
                x[strong],
                ys,
                eps=eps[strong],
                step_size=step[strong],
                loss="ce_targeted",
                target=draw_targets(ys, k),
                **common,
            )
        weak = ~strong
        if weak.any():
            x_adv[weak] = perturb(
                model,
                x[weak],
                y[weak],
                eps=eps[weak],
                step_size=step[weak],
                loss="kl",
                p_nat=p_nat[weak],
                **common,
            )
        return x_adv

    def on_epoch_start(self, epoch: int) -> None:
        super().on_epoch_start(epoch)
        self.targeted.zero_()
        self.seen.zero_()

    def targeted_fraction(self) -> torch.Tensor:
        """Per class, the fraction of this epoch's samples that got the targeted attack."""
        return self.targeted / self.seen.clamp(min=1.0)

    def extra_state(self) -> dict[str, float]:
        return class_names_state("targeted", self.targeted_fraction(), self.ctx.class_names)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "targeted": self.targeted.clone(),
            "seen": self.seen.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.targeted = state["targeted"].to(self.ctx.device, torch.float64).clone()
        self.seen = state["seen"].to(self.ctx.device, torch.float64).clone()
