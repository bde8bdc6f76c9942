"""``linear``: a multinomial logistic-regression model (flatten, then one ``nn.Linear``)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from fairat.models._common import NoArgs, register_model

NAME = "linear"


class LinearNet(nn.Module):
    """Flatten the input and apply the classification layer ``fc``."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.flatten(x))


@register_model(NAME, NoArgs)
def build_linear(*, num_classes: int, input_shape: tuple[int, ...], args: NoArgs) -> LinearNet:
    """A linear classifier on the flattened input; accepts any ``input_shape``."""
    return LinearNet(math.prod(input_shape), num_classes)
