"""``preact_resnet18``: pre-activation ResNet-18 in its CIFAR form.

He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016
(arXiv:1603.05027). Layout follows kuangliu/pytorch-cifar (``models/preact_resnet.py``) and
locuslab/robust_overfitting (``preactresnet.py``, Rice et al. 2020): a 3x3 stride-1 stem conv,
four stages of two BN-ReLU-conv blocks with 64/128/256/512 channels (strides 1/2/2/2), 1x1 conv
shortcuts (no BN) taken from the pre-activated input where the shape changes, and, as in the
paper and robust_overfitting, a final BN-ReLU before global average pooling and the linear head.
About 11.17M parameters for 10 classes and RGB input.
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

NAME = "preact_resnet18"


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, added to the (projected) input; no
    activation after the sum. ``dropout`` is the WideResNet's (0 in PreAct ResNet-18)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, kernel_size=1, stride=stride, bias=False
            )

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(pre)
        out = F.relu(self.bn2(self.conv1(pre)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        return self.conv2(out) + residual


class PreActResNet(nn.Module):
    """CIFAR-style pre-activation ResNet; ``blocks`` gives the number of blocks per stage.

    The stem convolution has ``stem`` channels (default ``widths[0]``); ``dropout`` goes into
    every block. :class:`fairat.models.wrn34_10.WideResNet` is this network, widened.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        widths: tuple[int, ...] = (64, 128, 256, 512),
        stem: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        stem = widths[0] if stem is None else stem
        self.conv1 = nn.Conv2d(in_channels, stem, kernel_size=3, padding=1, bias=False)
        self.layers, channels = residual_stages(
            lambda cin, cout, stride: PreActBlock(cin, cout, stride, dropout),
            stem,
            blocks,
            widths,
        )
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_conv_net(self)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(self.conv1(x))
        out = F.relu(self.bn(out))
        return self.fc(self.pool(out).flatten(1))


@register_model(NAME, NoArgs)
def build_preact_resnet18(
    *, num_classes: int, input_shape: tuple[int, ...], args: NoArgs
) -> PreActResNet:
    """CIFAR PreAct ResNet-18 for image input ``(C, H, W)``."""
    channels, _, _ = image_shape(NAME, input_shape)
    return PreActResNet(channels, num_classes)
