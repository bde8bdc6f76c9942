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


@METHODS.register("fgsm_at")
class FGSMAT(Method):
    @dataclass(frozen=True)
    class Params:
        random_start: bool = True
        step_scale: float = 1.25

        RANGES: ClassVar[dict[str, Range]] = {"step_scale": POSITIVE}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        eps = self.eps_for(y)
        x_adv = perturb(
            model,
            x,
            y,
            eps=eps,
            step_size=eps * (p.step_scale if p.random_start else 1.0),
            steps=1,
            loss="ce",
            random_start="uniform" if p.random_start else "none",
            clamp=self.ctx.clamp,
        )
        return F.cross_entropy(model(x_adv).float(), y)
