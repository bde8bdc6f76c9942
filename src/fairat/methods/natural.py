"""Natural (standard) training: cross-entropy on clean inputs.

Trained without an attack, its worst-class validation robust accuracy is 0 in every epoch on real
images (CIFAR-10 at 8/255), which would leave the choice of ``best.pt`` to ties, so it is selected
on worst-class clean accuracy instead (``selects_on``, docs/specification.md#conventions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods.base import Method
from fairat.methods.registry import METHODS


@METHODS.register("natural")
class Natural(Method):
    selects_on = "clean"

    @dataclass(frozen=True)
    class Params:
        pass

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x).float(), y)
