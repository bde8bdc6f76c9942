"""Input normalisation inside the model, and the wrapper that :func:`create_model` returns.

Models take inputs in [0, 1] pixel units (or raw features for vector data) so that attacks and
perturbation budgets are expressed in the input space; the per-channel standardisation
``(x - mean) / std`` is the first layer of the model, with ``mean`` and ``std`` stored as buffers
so that they travel with ``state_dict`` and ``.to(device)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _per_channel(what: str, values: Sequence[float], channels: int) -> Tensor:
    """Turn ``values`` (length 1 or ``channels``) into a float32 tensor of length ``channels``."""
    try:
        flat = [float(v) for v in values]
    except TypeError:
        raise ValueError(
            f"Normalize: {what} must be a sequence of numbers; got {values!r}"
        ) from None
    if what == "std" and not all(v > 0 for v in flat):
        raise ValueError(f"Normalize: std must be positive; got {values!r}")
    if len(flat) == 1:
        flat = flat * channels
    if len(flat) != channels:
        raise ValueError(
            f"Normalize: {what} has {len(flat)} values but the input has {channels} "
            "channels/features; give one value or one per channel"
        )
    return torch.tensor(flat, dtype=torch.float32)


class Normalize(nn.Module):
    """``(x - mean) / std`` over dimension 1, with ``mean`` and ``std`` as persistent buffers.

    ``input_shape`` is the per-example shape: ``(C, H, W)`` for images gives buffers of shape
    ``(1, C, 1, 1)``; ``(d,)`` for vector data gives ``(1, d)``. A single-value ``mean`` or
    ``std`` is repeated over all channels (features), so buffer shapes depend only on
    ``input_shape``. The buffers are cast to the input's floating dtype in ``forward``.
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self, mean: Sequence[float], std: Sequence[float], input_shape: tuple[int, ...]
    ) -> None:
        super().__init__()
        if len(input_shape) < 1:
            raise ValueError("Normalize: input_shape must have at least one dimension")
        channels = int(input_shape[0])
        view = (1, channels) + (1,) * (len(input_shape) - 1)
        mean_t = _per_channel("mean", mean, channels)
        std_t = _per_channel("std", std, channels)
        self.register_buffer("mean", mean_t.view(view))
        self.register_buffer("std", std_t.view(view))

    def forward(self, x: Tensor) -> Tensor:
        mean, std = self.mean, self.std
        if x.is_floating_point() and x.dtype != mean.dtype:
            mean, std = mean.to(x.dtype), std.to(x.dtype)
        return (x - mean) / std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class NormalizedModel(nn.Module):
    """``net(normalize(x))``: what :func:`fairat.models.create_model` returns.

    ``state_dict`` keys are ``normalize.mean``, ``normalize.std`` and ``net.<...>``; the
    classification layer is ``net.fc`` (see :func:`fairat.models.head`).
    """

    def __init__(self, normalize: Normalize, net: nn.Module) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.normalize(x))
