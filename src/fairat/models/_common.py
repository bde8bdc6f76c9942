"""Pieces shared by the model files: the ``MODELS`` registry, argument checks and weight init.

Every entry of :data:`MODELS` is a *builder*: a callable taking keyword-only arguments
``num_classes: int`` and ``input_shape: tuple[int, ...]`` plus the model's own keyword
arguments, and returning the bare network (no normalisation). The network must expose its final
classification layer as an ``nn.Linear`` attribute named ``fc``; :func:`fairat.models.head`
relies on that. Use :func:`fairat.models.create_model` rather than calling builders directly.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from fairat.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


class ModelArgumentError(TypeError, ValueError):
    """A bad keyword argument for a model; catchable as either ``TypeError`` or ``ValueError``."""


def image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return ``(C, H, W)``, or raise ``ValueError`` naming ``model`` when the shape is not 3-D."""
    if len(input_shape) != 3:
        raise ValueError(
            f"model {model!r} needs image input of shape (C, H, W); "
            f"got input_shape {tuple(input_shape)}"
        )
    channels, height, width = input_shape
    return channels, height, width


def positive_int(model: str, key: str, value: object, minimum: int = 1) -> int:
    """Check that keyword argument ``key`` of ``model`` is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelArgumentError(
            f"model {model!r}: {key} must be an integer >= {minimum}; got {value!r}"
        )
    return value


def probability(model: str, key: str, value: object) -> float:
    """Check that keyword argument ``key`` of ``model`` is a number in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ModelArgumentError(
            f"model {model!r}: {key} must be a number in [0, 1); got {value!r}"
        )
    return float(value)


def init_conv_net(module: nn.Module) -> None:
    """He (kaiming) normal init for convolutions, unit/zero batch norm, zero linear bias.

    This is the scheme of He et al. 2015 with ``mode="fan_out"`` as used by torchvision's
    ResNets and by the WideResNet of TRADES (``normal_(0, sqrt(2 / (k * k * out_channels)))``).
    Linear weights keep PyTorch's default init.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
