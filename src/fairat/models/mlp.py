"""``mlp``: a fully connected ReLU network on the flattened input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from fairat.config.params import AT_LEAST_ONE, Range
from fairat.models._common import ModelArgs, register_model

NAME = "mlp"


class MLP(nn.Module):
    """``depth`` hidden ``Linear``-``ReLU`` layers of width ``hidden``, then the head ``fc``."""

    def __init__(self, in_features: int, num_classes: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(self.flatten(x)))


@dataclass(frozen=True)
class Args(ModelArgs):
    """``model_args.mlp``: ``depth`` hidden layers of ``hidden`` units each."""

    hidden: int = 256
    depth: int = 2

    RANGES: ClassVar[dict[str, Range]] = {"hidden": AT_LEAST_ONE, "depth": AT_LEAST_ONE}


@register_model(NAME, Args)
def build_mlp(*, num_classes: int, input_shape: tuple[int, ...], args: Args) -> MLP:
    """An MLP with ``args.depth`` hidden layers of ``args.hidden`` units; any input shape."""
    return MLP(math.prod(input_shape), num_classes, args.hidden, args.depth)
