"""Device placement and the GPU fast path (bf16 autocast, channels_last, optional compile)."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; ``cuda`` without a GPU is an error naming the field."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device: 'cuda' was requested but no CUDA GPU is visible; use auto or cpu"
        )
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: {name!r} is not allowed; valid values: auto, cpu, cuda")
    return torch.device(name)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op on the CPU, where runs must be bit-deterministic."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_model(model: nn.Module, device: torch.device, *, image: bool) -> nn.Module:
    """Move to the device; image models use channels_last on CUDA."""
    model = model.to(device)
    if device.type == "cuda" and image:
        model = model.to(memory_format=torch.channels_last)
    return model


def maybe_compile(model: nn.Module, device: torch.device, enabled: bool) -> nn.Module:
    """One ``torch.compile`` per process on CUDA when the config asks for it."""
    return torch.compile(model) if enabled and device.type == "cuda" else model
