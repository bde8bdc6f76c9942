"""Label-augmented adversarial training (Amerehi & Healy, *Narrowing Class-Wise Robustness Gaps
in Adversarial Training*, arXiv 2503.16179; authors' earlier code f-amerehi/LA; METHODS.md
section 4).

The classifier head has K + M outputs, M = the number of transformation operations in ``ops``.
Each training sample gets one operation j; its input is the transformed image and its target
concat((1 - delta) onehot_K(y), delta onehot_M(j)); the loss is the soft-target cross-entropy
over the K + M logits. Prediction, validation, checkpoint selection and every evaluation attack
use only the first K logits (:class:`FirstK`, returned by ``eval_view``).

Two readings of where the attack sits, chosen by ``attack`` (METHODS.md section 4, revised):

- ``attack: all`` (default): every training input is adversarial, as on the paper's critical
  path (PGD-10 on x_i, then x~_i = x_i + delta_adv, then the augmented label) and as in its
  baseline, PGD-AT. Operation j is the input augmentation applied *before* the attack, and the
  PGD example is computed from the augmented input (its eps-ball is centred there). ``ops``
  holds augmentations only; the default is {identity, noise}.
- ``attack: op``: the project's earlier reading, where ``pgd`` is one of the operations, so a
  sample drawing ``identity`` (about half of each batch with {identity, pgd}) trains on its
  clean input. Kept as an option; a comparison with PGD-AT under it is confounded by the clean
  half, and tables report the run under its own name.

Operations: ``identity`` (x itself), ``noise`` (x plus uniform noise in the eps-ball, clamped to
[0, 1]) and, with ``attack: op`` only, ``pgd`` (the PGD example). The attack is ``steps`` steps
of size ``step_ratio`` x eps from a uniform random start, CE loss. AugMix is not implemented and
is rejected.

The project's readings ([choice] in METHODS.md and where the paper is silent):

- each sample draws its operation uniformly and independently from the set (global RNG,
  seeded per epoch by the trainer);
- the PGD examples are computed against the K-class view (CE over the first K logits with the
  true label), the same model that evaluation attacks;
- ``noise`` is uniform noise in the eps-ball of the sample's radius (the paper names no
  distribution), clamped to [0, 1] like every attack;
- all transformed samples go through one training forward pass together (BatchNorm sees the
  mixed batch).

The authors' public notebook (f-amerehi/LA, the earlier corruption-robustness work: AugMix,
no adversarial training) differs: it transforms whole batches (each listed distortion with
probability 0.7; otherwise the clean batch, at most once per batch), the untransformed batch
keeps the plain one-hot label (no identity label), AugMix gets delta = 0.15, and the target is
written as the loss mixture (1 - delta) CE(y) + delta CE(K + j), equal to the soft-target CE
above. Its FGM/PGD evaluation attacks the full K + M-output network and takes the argmax over
the first K logits only for the prediction; here the attacks, too, see only the first K.
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
        every augmented input."""
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
            out = self.attack_inputs(model, out, y, eps)
        return out.detach()

    def attack_inputs(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor
    ) -> torch.Tensor:
        """The PGD example of each input against the K-class view (CE with the true label)."""
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
        )

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        num_ops = len(self.ops)
        ops_idx = torch.randint(num_ops, (y.shape[0],), device=y.device)
        x_t = self.transform(model, x, y, ops_idx)
        targets = soft_targets(y, ops_idx, self.ctx.num_classes, num_ops, self.params.delta)
        logits = model(x_t).float()
        return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
