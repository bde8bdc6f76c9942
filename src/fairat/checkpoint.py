"""Atomic writes and safe loads: a file that exists is complete (Snakemake and DVC rely on it)."""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_torch(obj: Any, path: str | Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers only)."""
    return torch.load(path, map_location=device, weights_only=True)


def save_json(obj: Any, path: str | Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def save_text(text: str, path: str | Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as tensors and plain containers (weights_only-safe)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, keys, *rest = state["python"]
    random.setstate((version, tuple(keys), *rest))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)
