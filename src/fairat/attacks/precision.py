"""The precision attacks run at: :func:`full_precision`, the autocast-off context every attack
runs under (PGD and CW here, the attacks inside FRL, TRIX and WAT, the evaluation suite), so
that an attack made inside a bf16 training step still computes in fp32.

It sits with the attacks, below the methods and the training loop that call it; the rest of
the precision settings (``train.precision``, backend flags) are in :mod:`fairat.training.device`.
"""

from __future__ import annotations

import contextlib

import torch


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """fp32 inside any autocast region: attack generation, validation and evaluation."""
    return torch.autocast(device.type, enabled=False)
