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

from fairat.config.params import AT_LEAST_ONE, Range
from fairat.models._common import ModelArgs, image_shape, register_model
from fairat.models.preact_resnet18 import PreActResNet

NAME = "wrn34_10"


class WideResNet(PreActResNet):
    """WRN-``depth``-``widen_factor``; ``depth`` must be 6n + 4: a pre-activation ResNet with a
    16-channel stem and three groups of n blocks, 16k/32k/64k channels (k = ``widen_factor``)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        depth: int = 34,
        widen_factor: int = 10,
        dropout: float = 0.0,
    ) -> None:
        n = (depth - 4) // 6
        widths = (16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        super().__init__(in_channels, num_classes, (n, n, n), widths, stem=16, dropout=dropout)


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
