"""Batches on the accelerator: uint8 pixels to [0, 1] floats, and CIFAR-style augmentation.

Images stay uint8 in memory and on the accelerator; :func:`to_float` maps a batch to [0, 1] and
:func:`augment_batch` applies the usual CIFAR augmentation (pad-4 random crop and horizontal flip)
to a whole batch at once. Normalisation by ``mean``/``std`` happens inside the models, so attacks
work in pixel space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]; floating-point tensors are returned unchanged."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if x.is_floating_point():
        return x
    raise TypeError(f"to_float expects uint8 or floating-point input, got {x.dtype}")


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    pad: int = 4,
    *,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` plus random horizontal flip, per sample.

    Same distribution as torchvision's ``RandomCrop(H, padding=pad)`` followed by
    ``RandomHorizontalFlip()``: each image gets its own offset ``(dy, dx)`` uniform in
    ``{0..2 pad}^2`` into the padded image and is mirrored with probability 1/2. The whole batch
    is done with one gather on ``x``'s device (the batched-GPU-augmentation idea of Keller
    Jordan's airbench, https://github.com/KellerJordan/cifar10-airbench, implemented here with
    index grids). Pixels are copied, never interpolated. Random numbers come from ``generator``
    (on any device; they are moved to ``x``'s device) or the global RNG when it is ``None``.
    """
    if x.ndim != 4:
        raise ValueError(f"augment_batch expects (N, C, H, W), got shape {tuple(x.shape)}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, _, h, w = x.shape
    rand_device = generator.device if generator is not None else x.device
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rand_device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rand_device)
    mirror = torch.randint(0, 2, (n,), generator=generator, device=rand_device).bool()
    dy, dx, mirror = dy.to(x.device), dx.to(x.device), mirror.to(x.device)
    if not flip:
        mirror = torch.zeros_like(mirror)

    padded = F.pad(x, (pad, pad, pad, pad)) if pad else x
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H) rows of the padded image
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(mirror[:, None], cols.flip(1), cols)  # a flip reverses the column order
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices separated by a slice broadcast to (N, H, W) and move to the front.
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()
