"""Atomic, durable writes and safe loads: a file that exists is complete (Snakemake and DVC rely
on it), and a file that cannot be read says which file and what to do.

``atomic_write`` writes a temporary file beside the target, flushes it to disk (``fsync``),
renames it into place with ``os.replace`` and then syncs the directory, so that after a power
loss the target is either the old file or the complete new one, never an empty or partial one.

``load_torch`` loads with ``weights_only=True``. A file PyTorch cannot read (truncated, empty,
not a torch file) raises :class:`DamagedFileError` naming the file; a file that holds pickled
objects or code raises :class:`UnsafeFileError`, whose message never suggests
``weights_only=False`` (that would run the file's code). :func:`move_aside` renames a damaged
file out of the way (``<name>.damaged``) so that a cache starts over, or an output is rebuilt
by the next Snakemake run.

It lives in runtime, with the other process plumbing, because every stage writes and reads
through it (the config schema, prepared data, checkpoints and the RNG state a resumed run
restores, evaluations, tables) and it knows nothing of the science: it imports nothing from
fairat outside runtime, so that config and data, the lowest stages, may use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairat.runtime.errors import DamagedFileError

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that need it: the table and figure jobs write through
# this module and would otherwise spend seconds of start-up importing torch for nothing.


class UnsafeFileError(RuntimeError):
    """A checkpoint that holds pickled objects or code: fairat never loads it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"{self.path}: refused: it holds pickled Python objects or code, not only tensors "
            "and plain containers, and loading it could run that code. fairat reads weights-only "
            "files: re-create it with fairat, or load it in a session you trust and save "
            "model.state_dict() alone"
        )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, ``os.replace`` it into
    place and fsync the directory (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _fsync_dir(path.parent)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_torch(obj: Any, path: str | Path) -> None:
    import torch

    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers only); raise
    :class:`DamagedFileError` or :class:`UnsafeFileError` naming the file."""
    import torch

    path = Path(path)
    if path.exists() and not zipfile.is_zipfile(path):
        size = path.stat().st_size
        raise DamagedFileError(path, "empty" if size == 0 else f"not a torch archive, {size} bytes")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise UnsafeFileError(path) from None
        raise DamagedFileError(path, type(err).__name__) from None
    except (EOFError, zipfile.BadZipFile) as err:
        raise DamagedFileError(path, type(err).__name__) from None
    except RuntimeError as err:
        if "PytorchStreamReader" in str(err) or "zip archive" in str(err):
            raise DamagedFileError(path, "truncated or corrupt archive") from None
        raise


@contextlib.contextmanager
def rebuild_damaged_inputs() -> Iterator[None]:
    """Around a workflow step: an input that turns out damaged (a ``last.pt``, a prepared
    dataset) is moved aside and the step fails with a message saying so; the next Snakemake run
    finds the input missing and rebuilds it, instead of failing the same way on every retry.

    A damaged input that is a symbolic link into Snakemake's output cache (a trained run
    another config made, docs/configs.md) has its cache entry moved aside as well: otherwise the
    next run would fetch the same damaged file from the cache again, on every retry. The cache
    then misses that entry, and the run that made it is trained again and stored afresh.
    """
    try:
        yield
    except DamagedFileError as err:
        if not err.path.exists():
            raise
        cached = err.path.resolve() if err.path.is_symlink() else None
        aside = move_aside(err.path)
        also = ""
        if cached is not None and cached.is_file():
            also = f" and its cache entry to {move_aside(cached)}"
        raise DamagedFileError(
            err.path,
            str(err).split("(", 1)[-1].split(");", 1)[0],
            f"moved it to {aside}{also}; run snakemake again and it rebuilds {err.path.name}",
        ) from None


def move_aside(path: str | Path) -> Path:
    """Rename a damaged file to ``<name>.damaged`` (replacing an older one); return the new path."""
    path = Path(path)
    target = path.with_name(path.name + ".damaged")
    os.replace(path, target)
    return target


def save_json(obj: Any, path: str | Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def save_text(text: str, path: str | Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as tensors and plain containers (weights_only-safe)."""
    import torch

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
    import torch

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
