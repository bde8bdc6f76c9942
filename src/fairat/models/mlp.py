"""``mlp``: a fully connected ReLU network on the flattened input."""

from __future__ import annotations

import math

from torch import Tensor, nn

from fairat.models._common import MODELS, positive_int

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


@MODELS.register(NAME)
def build_mlp(
    *, num_classes: int, input_shape: tuple[int, ...], hidden: int = 256, depth: int = 2
) -> MLP:
    """An MLP with ``depth`` (>= 1) hidden layers of ``hidden`` units; accepts any input shape."""
    hidden = positive_int(NAME, "hidden", hidden)
    depth = positive_int(NAME, "depth", depth)
    return MLP(math.prod(input_shape), num_classes, hidden, depth)
