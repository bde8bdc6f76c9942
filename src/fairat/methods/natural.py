"""Natural (standard) training: cross-entropy on clean inputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods.base import Method
from fairat.methods.registry import METHODS


@METHODS.register("natural")
class Natural(Method):
    @dataclass(frozen=True)
    class Params:
        pass

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x).float(), y)
