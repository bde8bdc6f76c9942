"""``resnet20``: the CIFAR ResNet-20 of He et al. 2016.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), Section 4.2: a 3x3 conv with 16 channels, then three stages of n = 3
BasicBlocks with 16/32/64 channels (strides 1/2/2), global average pooling and a linear head,
6n + 2 = 20 weighted layers. A common PyTorch port is akamaster/pytorch_resnet_cifar10. The
network is :class:`fairat.models.resnet18.ResNet` with three stages of three blocks.

Shortcuts where the shape changes: ``shortcut="B"`` (the default here) is the paper's option B,
a 1x1 strided conv + BN projection (about 0.272M parameters for 10 classes); ``shortcut="A"`` is
option A as in the paper's CIFAR table, a parameter-free identity that subsamples by the stride
and zero-pads the new channels (about 0.270M parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fairat.models._common import ModelArgs, image_shape, register_model
from fairat.models.resnet18 import ResNet

NAME = "resnet20"


@dataclass(frozen=True)
class Args(ModelArgs):
    """``model_args.resnet20``: ``shortcut``, ``"B"`` (1x1 conv + BN) or ``"A"`` (zero-pad)."""

    shortcut: str = "B"

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"shortcut": ("A", "B")}


@register_model(NAME, Args)
def build_resnet20(*, num_classes: int, input_shape: tuple[int, ...], args: Args) -> ResNet:
    """ResNet-20 for image input ``(C, H, W)`` with the shortcut ``args.shortcut``."""
    channels, _, _ = image_shape(NAME, input_shape)
    return ResNet(
        channels, num_classes, blocks=(3, 3, 3), widths=(16, 32, 64), shortcut=args.shortcut
    )
