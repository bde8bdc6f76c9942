"""``resnet18``: ResNet-18 in its CIFAR form.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), adapted to 32x32 inputs as in kuangliu/pytorch-cifar (``models/resnet.py``)
and yaodongyu/TRADES (``models/resnet.py``): a 3x3 stride-1 stem convolution with no max-pool,
four stages of two BasicBlocks with 64/128/256/512 channels (strides 1/2/2/2), projection
shortcuts (1x1 conv + BN) where the shape changes, global average pooling and a linear head.
Adaptive pooling replaces the fixed 4x4 average pool so other input sizes work. About 11.17M
parameters for 10 classes and RGB input.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fairat.models._common import (
    NoArgs,
    image_shape,
    init_conv_net,
    register_model,
    residual_stages,
)

NAME = "resnet18"


class PadShortcut(nn.Module):
    """Option-A shortcut (He et al. 2016): take every ``stride``-th pixel, append zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection and ReLU after the sum.

    Where the shape changes the shortcut is option B (1x1 conv + BN) or option A (subsample
    and zero-pad, no parameters).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, shortcut: str = "B"
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if (stride != 1 or in_channels != out_channels) and shortcut == "A":
            self.shortcut = PadShortcut(in_channels, out_channels, stride)
        elif stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet built from :class:`BasicBlock`; ``blocks`` gives the blocks per stage.

    ResNet-18: blocks (2, 2, 2, 2), widths (64, 128, 256, 512); ResNet-20: (3, 3, 3), (16, 32, 64).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        widths: tuple[int, ...] = (64, 128, 256, 512),
        shortcut: str = "B",
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.layers, channels = residual_stages(
            lambda cin, cout, stride: BasicBlock(cin, cout, stride, shortcut),
            widths[0],
            blocks,
            widths,
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_conv_net(self)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        return self.fc(self.pool(out).flatten(1))


@register_model(NAME, NoArgs)
def build_resnet18(*, num_classes: int, input_shape: tuple[int, ...], args: NoArgs) -> ResNet:
    """CIFAR ResNet-18 for image input ``(C, H, W)``."""
    channels, _, _ = image_shape(NAME, input_shape)
    return ResNet(channels, num_classes)
