"""Label-augmented adversarial training (Amerehi & Healy, *Narrowing Class-Wise Robustness Gaps
in Adversarial Training*, arXiv 2503.16179; authors' earlier code f-amerehi/LA;
docs/specification.md#label-aug-at).

The classifier head has K + M outputs, M = the number of transformation operations in ``ops``.
Each training sample gets one operation j; its input is the transformed image and its target
concat((1 - delta) onehot_K(y), delta onehot_M(j)); the loss is the soft-target cross-entropy
over the K + M logits. Prediction, validation, checkpoint selection and every evaluation attack
use only the first K logits (:class:`FirstK`, returned by ``eval_view``).

Two readings of where the attack sits, chosen by ``attack`` (docs/specification.md#label-aug-at):

- ``attack: all`` (default): every training input is adversarial, as on the paper's critical
  path (PGD-10 on x_i, then x~_i = x_i + delta_adv, then the augmented label) and as in its
  baseline, PGD-AT. Operation j is the input augmentation applied *before* the attack, and the
  PGD attack starts from the augmented input. ``ops`` holds augmentations only; the default is
  {identity, noise}.
- ``attack: op``: the project's earlier reading, where ``pgd`` is one of the operations, so a
  sample drawing ``identity`` (about half of each batch with {identity, pgd}) trains on its
  clean input. Kept as an option; a comparison with PGD-AT under it is confounded by the clean
  half, and tables report the run under its own name.

Where the attack's eps-ball is centred, chosen by ``radius`` (docs/specification.md#label-aug-radius):

- ``radius: clean`` (default): around the clean input x. The attack starts from the augmented
  input (plus its uniform random start), and every step is projected onto the eps-ball of x
  and clamped to [0, 1], so the total perturbation of every training input (augmentation plus
  attack) stays within eps of x, as in ``pgd_at``, the baseline. With this ball, ``noise``
  changes only where the attack starts; what separates the operations is then mainly their
  label.
- ``radius: augmented``: around the augmented input, the project's earlier behaviour. A
  ``noise`` sample then ends up to 2 eps from x (at eps 8/255, on random inputs away from the
  [0, 1] clamp: 15.99/255 on average, 16/255 at most), so its training radius is not the
  baseline's. Kept as a named option; only ``attack: all`` has an augmentation followed by an
  attack, so ``attack: op`` rejects it.

Operations: ``identity`` (x itself), ``noise`` (x plus uniform noise in the eps-ball, clamped to
[0, 1]) and, with ``attack: op`` only, ``pgd`` (the PGD example). Each of them stays within eps
of x on its own; with ``attack: all`` the attack that follows keeps that bound under ``radius:
clean``. The attack is ``steps`` steps of size ``step_ratio`` x eps from a uniform random start,
CE loss. AugMix and the other corruption-style augmentations are not implemented and are
rejected (a new operation must keep the clean-ball bound; tests/test_label_aug_at.py measures
it for every operation).

The project's readings ([choice] in docs/specification.md#choices and where the paper is silent):

- each sample draws its operation uniformly and independently from the set (global RNG,
  seeded per epoch by the trainer);
- the PGD examples are computed against the K-class view (CE over the first K logits with the
  true label), the same model that evaluation attacks;
- ``noise`` is uniform noise in the eps-ball of the sample's radius (the paper names no
  distribution), clamped to [0, 1] like every attack;
- all transformed samples go through one training forward pass together (BatchNorm sees the
  mixed batch).

The authors' public notebook (f-amerehi/LA ``LA.ipynb`` at db2a449, the earlier
corruption-robustness work: AugMix, no adversarial training; a torchvision
``wide_resnet50_2`` with ImageNet weights, fine-tuned on 32 x 32 CIFAR-10) differs. Its training
cell (``train_model``) steps once per listed distortion and batch: the identity distortion (label
weight 1, i.e. the plain one-hot label) and AugMix (label weight 0.85, so delta = 0.15), each
with probability 0.7 (``distortion_p``); a draw that fails falls back to the clean batch with
the plain label, but only once per *epoch* (the ``inputs_trained`` flag is reset at the start of
each epoch, not of each batch), and is skipped after that. Both distortions share the one extra
output (M = 1, the index of the ``AugMix`` key). The target is written as the loss mixture
lam CE(y) + (1 - lam) CE(K + j) (``LA_criterion``), equal to the soft-target CE above. Its
FGM/PGD evaluation cell attacks the full K + M-output network on mean/std-normalised inputs
(mean 0.491/0.482/0.446, std 0.247/0.243/0.261) with cleverhans's ``projected_gradient_descent(
net, x, eps, 0.01, 40, np.inf)`` for eps in {0.03, 0.3}: random start, no clipping to the image
range, and the model's own argmax over all K + M outputs as the label (``y=None``); only the
prediction takes the argmax over the first K logits. Here the attacks see only the first K
logits and the true label, in pixel units, clamped to [0, 1]; eps 0.03 normalised is about
2/255 in pixels (config/label_aug_cifar10.yaml evaluates PGD-40 there as well as at 8/255).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods.base import AT_LEAST_ONE, FRACTION, POSITIVE, Method, Range
from fairat.methods.registry import METHODS

OPS = ("identity", "pgd", "noise")
ATTACK_MODES = ("all", "op")  # every input attacked after its augmentation / pgd is an operation
RADII = ("clean", "augmented")  # where the attack's eps-ball is centred (attack: all)


class FirstK(nn.Module):
    """A view of a (K + M)-output network whose forward returns only the first K logits."""

    def __init__(self, model: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.model = model
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, : self.num_classes]


def parse_ops(ops: str, where: str = "ops") -> tuple[str, ...]:
    """The comma-separated operation names as a tuple; unknown, duplicate or no names fail."""
    names = tuple(name.strip() for name in ops.split(",") if name.strip())
    if not names:
        raise ValueError(f"{where}: no operation given; valid names: {', '.join(OPS)}")
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(
            f"{where}: unknown operation(s) {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(OPS)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: {ops!r} names an operation twice")
    return names


def soft_targets(
    y: torch.Tensor, ops_idx: torch.Tensor, num_classes: int, num_ops: int, delta: float
) -> torch.Tensor:
    """concat((1 - delta) onehot_K(y), delta onehot_M(ops_idx)), shape (B, K + M)."""
    class_part = F.one_hot(y, num_classes).float() * (1.0 - delta)
    op_part = F.one_hot(ops_idx, num_ops).float() * delta
    return torch.cat([class_part, op_part], dim=1)


@METHODS.register("label_aug_at")
class LabelAugAT(Method):
    @dataclass(frozen=True)
    class Params:
        ops: str = "identity,noise"
        delta: float = 0.03
        steps: int = 10
        step_ratio: float = 0.25
        attack: str = "all"
        radius: str = "clean"

        RANGES: ClassVar[dict[str, Range]] = {
            "delta": FRACTION,
            "steps": AT_LEAST_ONE,
            "step_ratio": POSITIVE,
        }

        def __post_init__(self) -> None:
            names = parse_ops(self.ops, "ops")
            if self.attack not in ATTACK_MODES:
                raise ValueError(
                    f"attack: {self.attack!r} is not allowed; valid values: "
                    f"{', '.join(ATTACK_MODES)}"
                )
            if self.radius not in RADII:
                raise ValueError(
                    f"radius: {self.radius!r} is not allowed; valid values: {', '.join(RADII)} "
                    "(the eps-ball of the attack around the clean input, or around the augmented "
                    "input as before)"
                )
            if self.radius == "augmented" and self.attack != "all":
                raise ValueError(
                    f"radius: 'augmented' is only meaningful with attack: all (an augmentation "
                    f"followed by an attack); with attack: {self.attack!r} every operation stays "
                    "within eps of the clean input: leave radius at 'clean'"
                )
            if self.attack == "all" and "pgd" in names:
                raise ValueError(
                    f"ops: {self.ops!r} names 'pgd', an operation only with attack: op; with "
                    "attack: all every input is attacked after its augmentation (ops: "
                    "identity,noise), or set attack: op for the reading where pgd is an operation"
                )
            if self.attack == "op" and "pgd" not in names:
                raise ValueError(
                    f"ops: {self.ops!r} has no 'pgd': with attack: op nothing would be attacked"
                )

    @classmethod
    def head_size(cls, num_classes: int, params: Any) -> int:
        return num_classes + len(parse_ops(params.ops))

    @classmethod
    def eval_view(cls, model: nn.Module, num_classes: int) -> nn.Module:
        return FirstK(model, num_classes)

    @property
    def ops(self) -> tuple[str, ...]:
        return parse_ops(self.params.ops)

    def transform(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, ops_idx: torch.Tensor
    ) -> torch.Tensor:
        """Apply operation ``ops[ops_idx[i]]`` to each sample i, then (``attack: all``) attack
        every augmented input: within eps of the clean input (``radius: clean``) or of the
        augmented one (``radius: augmented``)."""
        p = self.params
        eps = self.eps_for(y)
        out = x.clone()
        for j, name in enumerate(self.ops):
            if name == "identity":
                continue
            idx = (ops_idx == j).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            xs, ys, es = x[idx], y[idx], eps[idx]
            if name == "pgd":
                out[idx] = self.attack_inputs(model, xs, ys, es)
            elif name == "noise":
                u = torch.rand(xs.shape, dtype=xs.dtype, device=xs.device)
                noisy = xs + (2 * u - 1) * es.view(-1, *([1] * (xs.ndim - 1)))
                out[idx] = noisy.clamp(0.0, 1.0) if self.ctx.clamp else noisy
        if p.attack == "all":
            if p.radius == "clean":
                out = self.attack_inputs(model, x, y, eps, start=out)
            else:
                out = self.attack_inputs(model, out, y, eps)
        return out.detach()

    def attack_inputs(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: torch.Tensor,
        start: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The PGD example of each input against the K-class view (CE with the true label),
        within eps of x; ``start`` (default x) is where the attack begins."""
        return perturb(
            self.eval_view(model, self.ctx.num_classes),
            x,
            y,
            eps=eps,
            step_size=eps * self.params.step_ratio,
            steps=self.params.steps,
            loss="ce",
            random_start="uniform",
            clamp=self.ctx.clamp,
            start=start,
        )

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        num_ops = len(self.ops)
        ops_idx = torch.randint(num_ops, (y.shape[0],), device=y.device)
        x_t = self.transform(model, x, y, ops_idx)
        targets = soft_targets(y, ops_idx, self.ctx.num_classes, num_ops, self.params.delta)
        logits = model(x_t).float()
        return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
