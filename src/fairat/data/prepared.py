"""The stratified train/val split and the prepared ``.npz`` format.

:func:`prepare` loads a dataset through its spec, carves a validation set out of the training
set with :func:`stratified_val_split` and writes everything to one ``.npz`` file (no pickles)
that :func:`load_prepared` reads back as a :class:`~fairat.data.containers.SplitData`.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fairat.data.containers import DatasetSpec, RawDataset, SplitData
from fairat.data.sources import DATASETS, resolve_options
from fairat.runtime.errors import DamagedFileError

#: Bumped when the layout of prepared ``.npz`` files changes.
FORMAT_VERSION = 1

_ARRAY_KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def stratified_val_split(
    y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into ``(train_idx, val_idx)``, both sorted int64 arrays.

    For every class ``c`` with ``n_c`` samples, ``round(val_fraction * n_c)`` of them (Python's
    round, half to even) go to validation, but at least 1 and at most ``n_c - 1`` when
    ``n_c >= 2``; a class with a single sample stays in training, and ``val_fraction == 0``
    gives an empty validation set. Classes are visited in sorted label order and draw their
    validation members from a single ``np.random.default_rng(seed)``, so the result depends only on
    ``y``, ``val_fraction`` and ``seed`` (not on global RNG state or the dtype of ``y``).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    rng = np.random.default_rng(seed)
    in_val = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        n = members.size
        if val_fraction == 0.0 or n < 2:
            continue
        k = min(max(round(val_fraction * n), 1), n - 1)
        in_val[rng.choice(members, size=k, replace=False)] = True
    return np.flatnonzero(~in_val).astype(np.int64), np.flatnonzero(in_val).astype(np.int64)


def prepare(
    name: str,
    root: Path,
    options: dict,
    val_fraction: float,
    split_seed: int,
    out: Path,
) -> SplitData:
    """Load dataset ``name``, split its training set into train/val, write ``out`` and return it.

    ``root`` is the directory for this dataset's raw files (for example ``data/raw/cifar10``);
    it is ignored by datasets that need no files. An image dataset's ``normalize: false`` option
    records mean 0 and std 1, so the model sees [0, 1] pixels as they are: what the DAFA, TRIX
    and TRADES reference scripts feed their networks (their transforms end at ``ToTensor()``
    with no ``Normalize``: rucy74/DAFA ``datasets.py`` lines 13-36, yaodongyu/TRADES
    ``train_trades_cifar10.py`` lines 59-66). ``out`` (a ``.npz``) is written atomically:
    a reader sees either the old file or the complete new one, never a partial write.
    """
    spec = DATASETS.get(name)
    resolved = resolve_options(name, options)
    raw = spec.load(Path(root), resolved)
    _check_raw(spec, raw)
    train_idx, val_idx = stratified_val_split(raw.y_train, val_fraction, split_seed)
    data = SplitData(
        x_train=raw.x_train[train_idx],
        y_train=raw.y_train[train_idx],
        x_val=raw.x_train[val_idx],
        y_val=raw.y_train[val_idx],
        x_test=raw.x_test,
        y_test=raw.y_test,
        class_names=list(raw.class_names),
        dataset=name,
        mean=tuple(spec.mean) if resolved.get("normalize", True) else (0.0,),
        std=tuple(spec.std) if resolved.get("normalize", True) else (1.0,),
        augment=spec.augment,
        clamp=spec.clamp,
        provenance={
            "format_version": FORMAT_VERSION,
            "options": resolved,
            "val_fraction": float(val_fraction),
            "split_seed": int(split_seed),
        },
    )
    save_prepared(data, out)
    return data


def save_prepared(data: SplitData, path: Path) -> None:
    """Write ``data`` to ``path`` (``.npz``) via a temporary file in the same directory.

    Class names are a numpy unicode array and the scalar fields a JSON string, so the file can
    be read with ``allow_pickle=False``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "dataset": data.dataset,
        "mean": list(data.mean),
        "std": list(data.std),
        "augment": data.augment,
        "clamp": data.clamp,
        "provenance": data.provenance,
    }
    arrays = {key: np.ascontiguousarray(getattr(data, key)) for key in _ARRAY_KEYS}
    arrays["class_names"] = np.array(data.class_names, dtype=np.str_)
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True), dtype=np.str_)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)  # mkstemp creates 0600; prepared data is not secret
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_prepared(path: Path) -> SplitData:
    """Read a file written by :func:`prepare` (no pickle is ever loaded); a file numpy cannot
    read raises :class:`fairat.runtime.errors.DamagedFileError` naming it."""
    try:
        return _load_prepared(Path(path))
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        reason = str(err).removeprefix(f"{path} ") or type(err).__name__
        raise DamagedFileError(path, reason) from None


def _load_prepared(path: Path) -> SplitData:
    with np.load(Path(path), allow_pickle=False) as npz:
        missing = sorted({*_ARRAY_KEYS, "class_names", "meta"} - set(npz.files))
        if missing:
            raise ValueError(f"{path} is not a prepared dataset file (missing {missing})")
        arrays = {key: npz[key] for key in _ARRAY_KEYS}
        class_names = [str(s) for s in npz["class_names"].tolist()]
        meta = json.loads(str(npz["meta"][()]))
    version = meta.get("provenance", {}).get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version!r}, expected {FORMAT_VERSION}; prepare it again"
        )
    return SplitData(
        **arrays,
        class_names=class_names,
        dataset=meta["dataset"],
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        augment=bool(meta["augment"]),
        clamp=bool(meta["clamp"]),
        provenance=meta["provenance"],
    )


def _check_raw(spec: DatasetSpec, raw: RawDataset) -> None:
    """Catch loader bugs early: dtypes, shapes and label ranges of a RawDataset."""
    want = np.uint8 if spec.clamp else np.float32
    k = len(raw.class_names)
    if spec.num_classes is not None and k != spec.num_classes:
        raise ValueError(f"{spec.name}: {k} class names, expected {spec.num_classes}")
    for part in ("train", "test"):
        x, y = getattr(raw, f"x_{part}"), getattr(raw, f"y_{part}")
        if x.dtype != want or y.dtype != np.int64 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{spec.name} {part}: got x {x.dtype}{x.shape}, y {y.dtype}{y.shape}; "
                f"expected x {np.dtype(want)} with one int64 label per sample"
            )
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"{spec.name} {part}: labels outside 0..{k - 1}")
    if raw.x_train.shape[1:] != raw.x_test.shape[1:]:
        raise ValueError(
            f"{spec.name}: train inputs {raw.x_train.shape[1:]} differ from test inputs "
            f"{raw.x_test.shape[1:]}"
        )
