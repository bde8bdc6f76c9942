"""DAFA class weights (Lee et al., ICLR 2024) and the warm-up bookkeeping shared by DAFA and TRIX.

With P a K x K class-similarity matrix (row i: the mean softmax over samples of class i), the
weight of class i is (docs/specification.md#dafa; rucy74/DAFA ``utils.py`` lines 35-53 since its fix of
2 September 2024, and the TRIX fork's ``utils.py`` lines 18-33)::

    W_i = 1 + lam * sum_{j != i} ( P_i(i) < P_j(j) ?  P_i(j) * P_j(j)  :  -P_j(i) * P_i(i) )

A class that is less confident than a similar class j takes weight from it in proportion to how
often it is confused with j and how confident j is; the easier class gives up the same amount, so
the weights sum to K (except where two diagonal entries tie exactly). TRIX applies the same
formula per batch to clean probabilities (plus 1e-8 * I on the diagonal; Fairness-a11y/TRIX
``losses.py`` lines 258-294) to split samples into "strong" and "weak" classes.

:class:`DafaSchedule` holds what DAFA and TRIX carry between epochs: the warm-up epoch tau
(1-based), the running per-class sums of the training adversarial softmax during epoch tau,
and whether the weights have been computed (after that they are frozen). At the end of epoch tau
it writes ``ctx.class_weights = W`` and ``ctx.class_eps = W * eps``, so ``Method.eps_for`` and
``Method.step_for`` give every sample its class's radius and step from epoch tau + 1 on.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods.base import EpochStats, Method, TrainContext, class_names_state
from fairat.methods.trades import trades_terms


def class_similarity(
    probs: torch.Tensor, labels: torch.Tensor, num_classes: int, *, diag: float = 0.0
) -> torch.Tensor:
    """(K, K) float64 matrix whose row i is the mean of ``probs`` over samples of class i.

    Rows of classes without samples are zero; ``diag`` is then added to the diagonal (TRIX adds
    1e-8 so that an absent class never ties at exactly zero).
    """
    sums, counts = class_sums(probs, labels, num_classes)
    return similarity_from_sums(sums, counts, diag=diag)


def class_sums(
    probs: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class sums of ``probs`` (K, K) and sample counts (K,), float64 and deterministic."""
    onehot = F.one_hot(labels, num_classes).to(torch.float64)
    return onehot.T @ probs.detach().to(torch.float64), onehot.sum(dim=0)


def similarity_from_sums(
    sums: torch.Tensor, counts: torch.Tensor, *, diag: float = 0.0
) -> torch.Tensor:
    sim = sums / counts.clamp(min=1.0)[:, None]
    if diag:
        sim = sim + diag * torch.eye(sim.shape[0], dtype=sim.dtype, device=sim.device)
    return sim


def dafa_weights(sim: torch.Tensor, lam: float) -> torch.Tensor:
    """The weights W (K,) of the module docstring for a (K, K) similarity matrix ``sim``.

    Ties ``P_i(i) == P_j(j)`` take the second (subtracting) branch, as in the reference code.
    """
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"expected a square similarity matrix, got shape {tuple(sim.shape)}")
    conf = torch.diagonal(sim)
    weaker = conf[:, None] < conf[None, :]  # [i, j]: P_i(i) < P_j(j)
    gain = sim * conf[None, :]  # [i, j]: P_i(j) * P_j(j)
    give = sim.T * conf[:, None]  # [i, j]: P_j(i) * P_i(i)
    terms = torch.where(weaker, gain, -give)
    terms = terms.masked_fill(torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device), 0.0)
    return 1.0 + lam * terms.sum(dim=1)


def check_warmup(warmup_epoch: int, epochs: int, where: str) -> None:
    """The DAFA weights come from epoch ``warmup_epoch`` and act from the next one: it must lie
    before the run's last epoch, or the run is plain TRADES with a misleading name."""
    if warmup_epoch >= epochs:
        raise ValueError(
            f"{where}: {warmup_epoch} is not below the run's {epochs} epochs: the class weights "
            "would come from the last epoch (or none) and never act, so the run would be plain "
            f"TRADES; give 1..{epochs - 1}"
        )


def dafa_idle(params: Any, state: list[dict[str, float]]) -> str | None:
    """DAFA's (and TRIX's) mechanism is idle when the class weights were never computed or
    stayed 1 (``Method.idle_mechanism``)."""
    if not any(row.get("weights_frozen") for row in state):
        return f"class weights never computed: the run never passed warm-up epoch {params.warmup_epoch}"
    weights = [v for row in state for k, v in row.items() if k.startswith("weight_")]
    if weights and all(abs(w - 1.0) < 1e-9 for w in weights):
        return "class weights stayed 1: plain TRADES"
    return None


class DafaSchedule:
    """Warm-up accumulator and frozen DAFA weights (see the module docstring).

    ``warmup_epoch`` is the 1-based epoch tau whose training adversarial softmax defines P; the
    weights are all ones through epoch tau and fixed from epoch tau + 1 on. A tau at or beyond
    the last epoch would mean the weights never act: :func:`check_warmup` refuses such a config
    before any job starts (a schedule built directly still only prints a note).
    """

    def __init__(self, ctx: TrainContext, *, lam: float, warmup_epoch: int, where: str) -> None:
        if warmup_epoch < 1:
            raise ValueError(
                f"{where}.warmup_epoch: {warmup_epoch} is not a 1-based epoch number (>= 1)"
            )
        self.ctx = ctx
        self.where = where
        self.lam = lam
        self.warmup_epoch = warmup_epoch
        k = ctx.num_classes
        self.sums = torch.zeros(k, k, dtype=torch.float64, device=ctx.device)
        self.counts = torch.zeros(k, dtype=torch.float64, device=ctx.device)
        self.frozen = False
        if warmup_epoch > ctx.epochs:
            print(
                f"[{where}] warmup_epoch {warmup_epoch} > epochs {ctx.epochs}: the class weights "
                "stay 1 (plain TRADES radii and weights) for the whole run",
                file=sys.stderr,
                flush=True,
            )

    @property
    def recording(self) -> bool:
        """True during the (1-based) warm-up epoch tau, before the weights are computed."""
        return not self.frozen and self.ctx.epoch + 1 == self.warmup_epoch

    def start_epoch(self) -> None:
        if self.recording:
            self.sums.zero_()
            self.counts.zero_()

    def record(self, logits_adv: torch.Tensor, y: torch.Tensor) -> None:
        sums, counts = class_sums(
            torch.softmax(logits_adv.detach().float(), dim=1), y, self.ctx.num_classes
        )
        self.sums += sums
        self.counts += counts

    def similarity(self) -> torch.Tensor:
        return similarity_from_sums(self.sums, self.counts)

    def end_epoch(self, epoch: int) -> None:
        """After the (0-based) ``epoch``: at the end of epoch tau compute W once and freeze it."""
        if self.frozen or epoch + 1 != self.warmup_epoch:
            return
        weights = dafa_weights(self.similarity(), self.lam)
        if (weights <= 0).any():
            print(
                f"[{self.where}] warning: non-positive class weights {weights.tolist()} (lam {self.lam}); "
                "their radii are <= 0",
                file=sys.stderr,
                flush=True,
            )
        ctx = self.ctx
        ctx.class_weights = weights.to(device=ctx.device, dtype=ctx.class_weights.dtype)
        ctx.class_eps = (weights * ctx.eps).to(device=ctx.device, dtype=ctx.class_eps.dtype)
        self.frozen = True

    def loss(
        self, model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float
    ) -> torch.Tensor:
        """mean_k W_{y_k} CE(f(x_k), y_k) + beta * mean_k KL(p(x_k) || p(x_adv_k)), recording
        the softmax of the training forward of ``x_adv`` during the warm-up epoch."""
        ce, kl, logits_adv = trades_terms(model, x, x_adv, y, return_logits=True)
        if self.recording:
            self.record(logits_adv, y)
        return (self.ctx.class_weights[y] * ce).mean() + beta * kl.mean()

    def state_dict(self) -> dict[str, Any]:
        return {"sums": self.sums.clone(), "counts": self.counts.clone(), "frozen": self.frozen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = state["sums"].to(self.ctx.device, torch.float64).clone()
        self.counts = state["counts"].to(self.ctx.device, torch.float64).clone()
        self.frozen = bool(state["frozen"])


class DafaWeighted(Method):
    """What DAFA and TRIX share around their :class:`DafaSchedule` (``self.schedule``, built by
    the subclass with its own ``lam``): the warm-up check, the idle-mechanism check, the
    weighted TRADES loss on ``self.adversarial``'s examples, the epoch hooks, the logged
    weights and radii, and the schedule in the method's state."""

    schedule: DafaSchedule

    @classmethod
    def idle_mechanism(cls, params: Any, state: list[dict[str, float]]) -> str | None:
        return dafa_idle(params, state)

    @classmethod
    def check_epochs(cls, params: Any, epochs: int, where: str) -> None:
        check_warmup(params.warmup_epoch, epochs, f"{where}.warmup_epoch")

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = self.adversarial(model, x, y)
        return self.schedule.loss(model, x, x_adv, y, self.params.beta)

    def on_epoch_start(self, epoch: int) -> None:
        super().on_epoch_start(epoch)
        self.schedule.start_epoch()

    def on_epoch_end(self, stats: EpochStats) -> None:
        self.schedule.end_epoch(stats.epoch)

    def extra_state(self) -> dict[str, float]:
        """The subclass's own ``method_state.csv`` columns, logged between the radii and
        ``weights_frozen``; none by default."""
        return {}

    def log_state(self) -> dict[str, float]:
        names = self.ctx.class_names
        return {
            **class_names_state("weight", self.ctx.class_weights, names),
            **class_names_state("eps", self.ctx.class_eps, names),
            **self.extra_state(),
            "weights_frozen": float(self.schedule.frozen),
        }

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "dafa": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.schedule.load_state_dict(state["dafa"])
