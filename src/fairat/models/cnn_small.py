"""``cnn_small``: a small convolutional network, cheap enough to train many times on a CPU.

Not a published architecture: three 3x3 conv-BN-ReLU layers (``width``, ``width``, ``2*width``
channels) with one 2x2 max-pool, global average pooling and a linear head. Global pooling makes
it work on 8x8 one-channel digits (sklearn ``load_digits``) as well as 32x32 RGB images. With the
default ``width=32`` it has about 29k parameters (10 classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from fairat.config.params import AT_LEAST_ONE, Range
from fairat.models._common import ModelArgs, image_shape, init_conv_net, register_model

NAME = "cnn_small"


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class SmallConvNet(nn.Module):
    """conv-BN-ReLU x2, max-pool 2, conv-BN-ReLU (2x width), global average pool, ``fc``."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, width),
            *_conv_bn_relu(width, width),
            nn.MaxPool2d(2),
            *_conv_bn_relu(width, 2 * width),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)
        init_conv_net(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


@dataclass(frozen=True)
class Args(ModelArgs):
    """``model_args.cnn_small``: ``width``, the channels of the first two convolutions."""

    width: int = 32

    RANGES: ClassVar[dict[str, Range]] = {"width": AT_LEAST_ONE}


@register_model(NAME, Args)
def build_cnn_small(*, num_classes: int, input_shape: tuple[int, ...], args: Args) -> SmallConvNet:
    """The small conv net for image input ``(C, H, W)`` with ``H, W >= 2``."""
    channels, height, wide = image_shape(NAME, input_shape)
    if height < 2 or wide < 2:
        raise ValueError(
            f"model {NAME!r} needs images of at least 2x2 pixels; got input_shape {input_shape}"
        )
    return SmallConvNet(channels, num_classes, args.width)
