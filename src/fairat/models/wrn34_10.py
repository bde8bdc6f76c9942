"""``wrn34_10``: WideResNet-34-10, the standard adversarial-training backbone.

Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016 (arXiv:1605.07146); the
configuration (depth 34, widen factor 10) and layout follow yaodongyu/TRADES
(``models/wideresnet.py``, Zhang et al. 2019): a 3x3 stem conv
with 16 channels, three groups of n = (depth - 4) / 6 pre-activation blocks with
16k/32k/64k channels (k = widen factor; strides 1/2/2), 1x1 conv shortcuts taken from the
pre-activated input where the shape changes, a final BN-ReLU, global average pooling and a linear
head. About 46.16M parameters for 10 classes and RGB input.

TRADES' file also builds an unused ``sub_block1`` (it never runs in ``forward``); it is omitted
here, so loading a TRADES checkpoint needs those keys dropped and the others renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from fairat.config.params import AT_LEAST_ONE, Range
from fairat.models._common import ModelArgs, image_shape, init_conv_net, register_model

NAME = "wrn34_10"


class WideBlock(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, plus the (projected) input."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float) -> None:
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


class WideResNet(nn.Module):
    """WRN-``depth``-``widen_factor``; ``depth`` must be 6n + 4."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        depth: int = 34,
        widen_factor: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        n = (depth - 4) // 6
        widths = (16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, padding=1, bias=False)
        groups: list[nn.Module] = []
        channels = 16
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            blocks: list[nn.Module] = []
            for j in range(n):
                blocks.append(WideBlock(channels, width, stride if j == 0 else 1, dropout))
                channels = width
            groups.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*groups)
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_conv_net(self)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(self.conv1(x))
        out = F.relu(self.bn(out))
        return self.fc(self.pool(out).flatten(1))


@dataclass(frozen=True)
class Args(ModelArgs):
    """``model_args.wrn34_10``: WRN-``depth``-``widen_factor`` with dropout ``dropout`` between
    the two convolutions of each block; the defaults give WRN-34-10 without dropout."""

    depth: int = 34
    widen_factor: int = 10
    dropout: float = 0.0

    RANGES: ClassVar[dict[str, Range]] = {
        "depth": Range(10),
        "widen_factor": AT_LEAST_ONE,
        "dropout": Range(0, 1, open_high=True),
    }
    NOTES: ClassVar[dict[str, str]] = {"depth": "6n + 4: 10, 16, 22, 28, 34, ..."}

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.depth - 4) % 6 != 0:  # n = (depth - 4) / 6 blocks per group
            raise ValueError(
                f"depth: {self.depth!r} is not allowed; must be {self.allowed('depth')}"
            )


@register_model(NAME, Args)
def build_wrn34_10(*, num_classes: int, input_shape: tuple[int, ...], args: Args) -> WideResNet:
    """WideResNet for image input ``(C, H, W)``; defaults give WRN-34-10 without dropout."""
    channels, _, _ = image_shape(NAME, input_shape)
    return WideResNet(channels, num_classes, args.depth, args.widen_factor, args.dropout)
