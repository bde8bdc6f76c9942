"""Same-class ("domain") mixup adversarial training (Zhong & Tandon, *Learning Fair Robustness
via Domain Mixup*, arXiv 2411.14424; docs/specification.md#mixup-at).

Each sample i is mixed with a partner j of the same class drawn from the batch,
x_mix = lam * x_i + (1 - lam) * x_j, the label is kept, the adversarial example is generated
from x_mix and the model is trained with cross-entropy on it. The paper uses FGSM; PGD is
allowed. The paper publishes no code.

The project's readings, where the paper is silent ([choice] in docs/specification.md#choices):

- the partner is drawn uniformly among the *other* samples of the same class in the batch; a
  class with a single sample in the batch is mixed with itself (x_mix = x_i);
- lam ~ Beta(alpha, alpha) independently per sample with alpha = 1 (uniform on [0, 1]) by
  default (the paper only says lam in [0, 1]); ``lam`` fixes it instead;
- ``attack = "fgsm"`` (default, as the paper): one signed-gradient step of size eps from x_mix;
  with ``random_start`` the "fast" variant of Wong et al. (2020): uniform start in the ball and
  a step of 1.25 eps, as ``fgsm_at``. ``attack = "pgd"``: ``steps`` steps of size
  ``step_ratio`` x eps from a uniform random start (``random_start`` applies to FGSM only);
- partners and lam come from torch's global RNG, which the trainer seeds per epoch.

The paper's CIFAR-10 "eps = 0.3" is on mean/std-normalised inputs (about 15/255 in pixels);
that conversion is recorded in the paper config, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods.base import AT_LEAST_ONE, FRACTION, POSITIVE, Method, Range
from fairat.methods.fgsm_at import fgsm_attack
from fairat.methods.pgd_at import pgd_attack
from fairat.methods.registry import METHODS

ATTACKS = ("fgsm", "pgd")
FAST_FGSM_STEP = 1.25  # Wong et al. (2020), the same default as fgsm_at


def same_class_partners(y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each sample, the index of a uniformly drawn *other* sample of the same class.

    Vectorised: shuffle the batch, stable-sort the shuffled labels so that each class forms a
    contiguous block in random order, and pair every position with the next one in its block
    (cyclically). Marginally each sample's partner is uniform over the other members of its
    class; a class with a single member in the batch is paired with itself.
    """
    n = y.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.long, device=y.device)
    shuffle = torch.randperm(n, generator=generator, device=y.device)
    order = shuffle[torch.argsort(y[shuffle], stable=True)]  # class blocks, random inside
    sorted_y = y[order]
    _, counts = torch.unique_consecutive(sorted_y, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    block_start = torch.repeat_interleave(starts, counts)
    block_size = torch.repeat_interleave(counts, counts)
    pos = torch.arange(n, device=y.device)
    nxt = block_start + (pos - block_start + 1) % block_size
    partners = torch.empty_like(order)
    partners[order] = order[nxt]
    return partners


def mix(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float = 1.0,
    lam: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Same-class mixup: ``(x_mix, partners, lam)`` with x_mix = lam x + (1 - lam) x[partners].

    ``lam`` (shape (B,)) is the fixed value when given, else drawn from Beta(alpha, alpha) per
    sample with the global RNG. ``generator`` seeds only the partner draw.
    """
    partners = same_class_partners(y, generator)
    n = x.shape[0]
    if lam is not None:
        lam_t = torch.full((n,), float(lam), dtype=x.dtype, device=x.device)
    else:
        a = torch.tensor(float(alpha), dtype=torch.float32, device=x.device)
        lam_t = torch.distributions.Beta(a, a).sample((n,)).to(x.dtype)
    shape = (n, *([1] * (x.ndim - 1)))
    x_j = x[partners]
    x_mix = x_j + lam_t.view(shape) * (x - x_j)
    return x_mix, partners, lam_t


@METHODS.register("mixup_at")
class MixupAT(Method):
    @dataclass(frozen=True)
    class Params:
        alpha: float = 1.0
        lam: float | None = None
        attack: str = "fgsm"
        steps: int = 10
        step_ratio: float = 0.25
        random_start: bool = False

        def __post_init__(self) -> None:
            if self.attack not in ATTACKS:
                raise ValueError(
                    f"attack: {self.attack!r} is unknown; valid values: {', '.join(ATTACKS)}"
                )

        RANGES: ClassVar[dict[str, Range]] = {
            "alpha": POSITIVE,
            "lam": FRACTION,  # or null: lam ~ Beta(alpha, alpha)
            "steps": AT_LEAST_ONE,
            "step_ratio": POSITIVE,
        }

    def adversarial(self, model: nn.Module, x_mix: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        if p.attack == "pgd":
            return pgd_attack(self, model, x_mix, y, steps=p.steps, step_ratio=p.step_ratio)
        return fgsm_attack(
            self, model, x_mix, y, step_scale=FAST_FGSM_STEP, random_start=p.random_start
        )

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_mix, _, _ = mix(x, y, self.params.alpha, self.params.lam)
        x_adv = self.adversarial(model, x_mix, y)
        return F.cross_entropy(model(x_adv).float(), y)
