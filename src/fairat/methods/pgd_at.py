"""PGD adversarial training (Madry et al. 2018): CE on K-step PGD examples with a uniform start.

Defaults follow docs/specification.md#baselines: K = 10, step alpha = eps / 4 (2/255 at eps = 8/255).
``step_size`` fixes an absolute step instead (it scales with a per-class radius).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods.base import AT_LEAST_ONE, POSITIVE, Method, Range
from fairat.methods.registry import METHODS


def pgd_attack(
    method: Method,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    step_ratio: float,
    step_size: float | None = None,
) -> torch.Tensor:
    """Madry et al.'s attack for ``method``: from a uniform start in each sample's class radius
    (``Method.eps_for``), ``steps`` ascent steps on the cross-entropy, step ``Method.step_for``."""
    return perturb(
        model,
        x,
        y,
        eps=method.eps_for(y),
        step_size=method.step_for(y, step_ratio, step_size),
        steps=steps,
        loss="ce",
        random_start="uniform",
        clamp=method.ctx.clamp,
    )


@METHODS.register("pgd_at")
class PGDAT(Method):
    @dataclass(frozen=True)
    class Params:
        steps: int = 10
        step_ratio: float = 0.25
        step_size: float | None = None

        RANGES: ClassVar[dict[str, Range]] = {
            "steps": AT_LEAST_ONE,
            "step_ratio": POSITIVE,
            "step_size": POSITIVE,
        }

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        x_adv = pgd_attack(
            self, model, x, y, steps=p.steps, step_ratio=p.step_ratio, step_size=p.step_size
        )
        return F.cross_entropy(model(x_adv).float(), y)
