"""The interface every training method implements; a new method is one file under ``methods/``.

A method owns its hyper-parameters (a frozen dataclass ``Params`` whose defaults are the paper's),
the per-batch training loss, and optional hooks between epochs. The trainer supplies a
:class:`TrainContext` (class count, eps, per-class eps and weights, validation data) and calls:

- ``loss(model, x, y)`` for each batch (model in train mode; attacks switch to eval mode inside);
- ``on_epoch_end(stats)`` after each epoch with the validation statistics of :class:`EpochStats`;
- ``log_state()`` to record per-epoch method state (class weights, radii, multipliers) to CSV;
- ``state_dict()`` / ``load_state_dict()`` so that a resumed run continues bit-identically.

Class attributes declare what the workflow must know before training:
``init_from`` names the run whose ``last`` checkpoint of the same dataset, model, eps and seed
this one fine-tunes by default (FRL fine-tunes ``trades``; a config may name another run of one
of ``init_methods`` with ``init_from:``, see :mod:`fairat.config.variants`); ``head_size(K)`` lets a method widen the
classifier head (label-augmented AT uses K + M outputs); ``eval_view`` returns the K-class
model that evaluation and checkpoint selection attack.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from fairat.config.params import (  # noqa: F401 (re-exported: methods declare their Params with them)
    AT_LEAST_ONE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    Range,
    check_ranges,
    parse_dataclass,
)


@dataclass
class TrainContext:
    """What a method may read from (and, for class weights/eps, write to) during training."""

    num_classes: int
    eps: float
    clamp: bool
    device: torch.device
    epochs: int
    class_names: list[str]
    x_val: torch.Tensor
    y_val: torch.Tensor
    epoch: int = 0
    class_eps: torch.Tensor = field(init=False)
    class_weights: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.class_eps = torch.full((self.num_classes,), self.eps, device=self.device)
        self.class_weights = torch.ones(self.num_classes, device=self.device)


@dataclass
class EpochStats:
    """Validation statistics after an epoch: per-class accuracy, clean and under PGD (selection attack)."""

    epoch: int
    val_clean: torch.Tensor  # (K,) per-class accuracy on the validation split
    val_robust: torch.Tensor  # (K,) per-class accuracy under the selection attack
    train_loss: float
    model: nn.Module | None = None  # the K-class model that was validated (for extra statistics)


class Method:
    """Base class: plain cross-entropy on whatever inputs ``training_inputs`` returns."""

    name: ClassVar[str]
    Params: ClassVar[type]
    init_from: ClassVar[str | None] = None  # default parent run of a fine-tuning method
    init_methods: ClassVar[tuple[str, ...]] = ()  # the methods such a parent may run
    # what best.pt maximises on the validation split: worst-class (then average) accuracy under
    # the selection attack ("robust"), or clean ("clean") for a method trained without attack
    selects_on: ClassVar[str] = "robust"

    def __init__(self, params: Any, ctx: TrainContext) -> None:
        self.params = params
        self.ctx = ctx

    # --- hyper-parameters -------------------------------------------------------------------
    @classmethod
    def parse_params(cls, raw: dict[str, Any] | None) -> Any:
        """Build ``Params`` from a config mapping; unknown keys and bad types name the field."""
        return parse_dataclass(cls.Params, raw or {}, where=f"methods.{cls.name}")

    # --- model shape ------------------------------------------------------------------------
    @classmethod
    def head_size(cls, num_classes: int, params: Any) -> int:
        return num_classes

    @classmethod
    def eval_view(cls, model: nn.Module, num_classes: int) -> nn.Module:
        """The K-class classifier that evaluation attacks; most methods evaluate the model itself."""
        return model

    def validation_model(self, model: nn.Module) -> nn.Module:
        """The K-class model validated after each epoch and selected for ``best.pt``.

        Default: ``eval_view(model)``. A method that averages weights (CFA's FAWA) returns
        its averaged model here and its weights from :meth:`checkpoint_weights`.
        """
        return self.eval_view(model, self.ctx.num_classes)

    def checkpoint_weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The weights written to ``last.pt``/``best.pt`` (same keys as ``model.state_dict()``)."""
        return model.state_dict()

    def saves_other_weights(self) -> bool:
        """Whether ``checkpoint_weights`` now differ from the validated model's (CFA's FAWA
        average): the trainer then validates the saved weights to select ``best.pt``."""
        return False

    # --- training ---------------------------------------------------------------------------
    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def idle_mechanism(cls, params: Any, state: list[dict[str, float]]) -> str | None:
        """Why, by its logged per-epoch state (``method_state.csv`` rows), a run never engaged
        the mechanism that distinguishes the method (a warm-up it never left, weights that
        never changed), or None. The summary marks such rows: their numbers are the budget's,
        not the method's."""
        return None

    @classmethod
    def prefix_epochs(cls, params: Any, other: type[Method], other_params: Any) -> int:
        """How many leading epochs this method with ``params`` computes exactly what ``other``
        with ``other_params`` computes, given the same data, model, seed, optimiser and lr
        (:mod:`fairat.training.prefixes` checks those): 0 (the default) for none, :data:`ALL_EPOCHS`
        for every epoch. A declaration also promises that after that many epochs this method's
        state is ``other``'s (the same method: its ``state_dict`` carries over) or, for another
        method, this method's fresh state, up to per-epoch counters that ``on_epoch_start``
        resets; the child of a shared prefix starts from it (docs/configs.md, "Shared
        prefixes"). :func:`fairat.training.prefixes.prefix_epochs` takes the larger of the two sides'
        declarations, so a pair needs only one. tests/test_prefixes.py trains every declared
        pair both ways and compares the outputs bit for bit."""
        return 0

    @classmethod
    def branch_points(cls, params: Any) -> tuple[int, ...]:
        """Epochs after which a run of this method keeps its state for runs that take its first
        epochs and then differ (:func:`fairat.training.prefixes.offered_epochs`): the epochs up to
        which this method's own parameters that are read late go unread (DAFA's warm-up), so
        that a sweep over them can start from any run of the method, even one another config
        trained. Default: none."""
        return ()

    @classmethod
    def check_epochs(cls, params: Any, epochs: int, where: str) -> None:
        """Raise when an epoch-indexed hyper-parameter makes no sense for a run of ``epochs``
        epochs (a warm-up that never ends); checked before any job starts."""

    def on_epoch_start(self, epoch: int) -> None:
        self.ctx.epoch = epoch

    def on_epoch_end(self, stats: EpochStats) -> None:
        """Hook between epochs; default does nothing."""

    def log_state(self) -> dict[str, float]:
        """Per-epoch method state to log (e.g. ``weight_cat``); default: nothing."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"class_eps": self.ctx.class_eps, "class_weights": self.ctx.class_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ctx.class_eps = state["class_eps"].to(self.ctx.device)
        self.ctx.class_weights = state["class_weights"].to(self.ctx.device)

    # --- helpers for subclasses -------------------------------------------------------------
    def eps_for(self, y: torch.Tensor) -> torch.Tensor:
        """Per-sample radius from the per-class radii (all equal to eps unless a method changes them)."""
        return self.ctx.class_eps[y]

    def step_for(self, y: torch.Tensor, step_ratio: float, step_size: float | None) -> torch.Tensor:
        """Per-sample step: ``step_size`` scaled like the class radius, or ``step_ratio`` x radius."""
        eps = self.eps_for(y)
        if step_size is None:
            return eps * step_ratio
        return eps * (step_size / self.ctx.eps) if self.ctx.eps > 0 else torch.zeros_like(eps)


ALL_EPOCHS = 1 << 30  # Method.prefix_epochs: the two computations never differ


def same_until(params: Any, other_params: Any, read_from: dict[str, int]) -> int:
    """For two ``Params`` of one method: ``ALL_EPOCHS`` if they are equal, else the smallest
    ``read_from[field]`` over the fields in which they differ, the number of leading epochs in
    which that field is not read; 0 when a differing field is not listed (read from the start)."""
    epochs = ALL_EPOCHS
    for f in dataclasses.fields(params):
        if getattr(params, f.name) != getattr(other_params, f.name):
            epochs = min(epochs, read_from.get(f.name, 0))
    return epochs


def same_fields(params: Any, other_params: Any, base: type) -> bool:
    """Whether two ``Params`` (of possibly different methods) agree on every field of the
    dataclass ``base`` that both extend (e.g. :class:`fairat.methods.trades.TradesParams`)."""
    if not (isinstance(params, base) and isinstance(other_params, base)):
        return False
    return all(
        getattr(params, f.name) == getattr(other_params, f.name) for f in dataclasses.fields(base)
    )


def class_names_state(prefix: str, values: torch.Tensor, names: list[str]) -> dict[str, float]:
    """``{prefix_<class>: value}`` for per-class method state logged to CSV."""
    return {f"{prefix}_{n}": float(v) for n, v in zip(names, values.tolist(), strict=True)}
