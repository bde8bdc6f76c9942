"""``resnet20``: the CIFAR ResNet-20 of He et al. 2016.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), Section 4.2: a 3x3 conv with 16 channels, then three stages of n = 3
BasicBlocks with 16/32/64 channels (strides 1/2/2), global average pooling and a linear head,
6n + 2 = 20 weighted layers. A common PyTorch port is akamaster/pytorch_resnet_cifar10.

Shortcuts where the shape changes: ``shortcut="B"`` (the default here) is the paper's option B,
a 1x1 strided conv + BN projection (about 0.272M parameters for 10 classes); ``shortcut="A"`` is
option A as in the paper's CIFAR table, a parameter-free identity that subsamples by the stride
and zero-pads the new channels (about 0.270M parameters).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fairat.models._common import MODELS, ModelArgumentError, image_shape, init_conv_net

NAME = "resnet20"


class PadShortcut(nn.Module):
    """Option-A shortcut: take every ``stride``-th pixel and append zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class CifarBasicBlock(nn.Module):
    """Two 3x3 conv-BN layers, residual sum, ReLU; option A or B shortcut on a shape change."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            if shortcut == "A":
                self.shortcut = PadShortcut(in_channels, out_channels, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s 6n+2-layer CIFAR ResNet; ``n=3`` is ResNet-20."""

    def __init__(self, in_channels: int, num_classes: int, n: int = 3, shortcut: str = "B") -> None:
        super().__init__()
        widths = (16, 32, 64)
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages: list[nn.Module] = []
        channels = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers: list[nn.Module] = []
            for j in range(n):
                layers.append(CifarBasicBlock(channels, width, stride if j == 0 else 1, shortcut))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_conv_net(self)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        return self.fc(self.pool(out).flatten(1))


@MODELS.register(NAME)
def build_resnet20(
    *, num_classes: int, input_shape: tuple[int, ...], shortcut: str = "B"
) -> CifarResNet:
    """ResNet-20 for image input ``(C, H, W)``; ``shortcut`` is ``"B"`` (1x1 conv) or ``"A"``."""
    channels, _, _ = image_shape(NAME, input_shape)
    if shortcut not in ("A", "B"):
        raise ModelArgumentError(f"model {NAME!r}: shortcut must be 'A' or 'B'; got {shortcut!r}")
    return CifarResNet(channels, num_classes, n=3, shortcut=shortcut)
