"""FGSM adversarial training (Goodfellow et al. 2015) and its "fast" variant (Wong et al. 2020).

With ``random_start`` the attack starts uniformly in the eps-ball and steps ``step_scale * eps``
(1.25 in Wong et al.); without it, one signed-gradient step of size eps from the clean input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods.base import POSITIVE, Method, Range
from fairat.methods.registry import METHODS


def fgsm_attack(
    method: Method,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    step_scale: float,
    random_start: bool,
) -> torch.Tensor:
    """One signed-gradient step on the cross-entropy for ``method``, within each sample's class
    radius eps (``Method.eps_for``): from a uniform start with step ``step_scale * eps`` if
    ``random_start``, else from the clean input with step eps."""
    eps = method.eps_for(y)
    return perturb(
        model,
        x,
        y,
        eps=eps,
        step_size=eps * (step_scale if random_start else 1.0),
        steps=1,
        loss="ce",
        random_start="uniform" if random_start else "none",
        clamp=method.ctx.clamp,
    )


@METHODS.register("fgsm_at")
class FGSMAT(Method):
    @dataclass(frozen=True)
    class Params:
        random_start: bool = True
        step_scale: float = 1.25

        RANGES: ClassVar[dict[str, Range]] = {"step_scale": POSITIVE}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        x_adv = fgsm_attack(self, model, x, y, step_scale=p.step_scale, random_start=p.random_start)
        return F.cross_entropy(model(x_adv).float(), y)
