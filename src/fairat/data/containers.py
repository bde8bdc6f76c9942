"""The containers a data source fills and training reads, and the errors of missing raw files.

A source's loader returns a :class:`RawDataset` (the official train/test arrays); a
:class:`DatasetSpec` says how to load a dataset and how training treats its inputs; a prepared
file reads back as a :class:`SplitData` (train/val/test plus what models and attacks need).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class RawDataset:
    """A dataset's official train/test arrays as loaded from disk (or generated).

    ``x_*`` is uint8 ``(N, C, H, W)`` for images and float32 ``(N, d)`` for feature vectors;
    ``y_*`` is int64 ``(N,)`` with labels in ``range(len(class_names))``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset and how training should treat its inputs.

    ``load(root, options)`` gets the directory holding this dataset's raw files and the user's
    ``data.<name>`` options (unvalidated; loaders validate them with :func:`resolve_options`).
    ``defaults`` lists every allowed option with its default; ``required`` names options that
    have no default.
    """

    name: str
    load: Callable[[Path, dict], RawDataset]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool
    clamp: bool
    num_classes: int | None
    how_to_get: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class SplitData:
    """Train/val/test arrays plus what models and attacks need to know about the inputs."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    dataset: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool
    clamp: bool
    #: How the file was made: resolved options, val_fraction, split_seed, format version.
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` for images, ``(d,)`` for feature vectors."""
        return tuple(int(s) for s in self.x_train.shape[1:])


class DatasetMissingError(RuntimeError):
    """The raw files of a dataset are not where we looked, and we may not download them."""

    def __init__(self, dataset: str, path: Path | str, looked_for: str, how_to_get: str) -> None:
        self.dataset = dataset
        self.path = Path(path)
        self.looked_for = looked_for
        self.how_to_get = how_to_get
        super().__init__(
            f"dataset {dataset!r} not found under {path} (looked for {looked_for}); {how_to_get}"
        )


class DatasetCorruptError(RuntimeError):
    """Raw files exist but fail their md5 check (truncated download, wrong version, edits)."""

    def __init__(self, dataset: str, path: Path | str, files: list[str]) -> None:
        self.dataset = dataset
        self.path = Path(path)
        self.files = list(files)
        super().__init__(
            f"dataset {dataset!r} under {path}: {', '.join(files)} failed the md5 check against "
            "torchvision's published checksums (corrupted or incomplete); delete the file(s) and "
            f"download again (data.{dataset}.download: true on a machine with internet)"
        )
