"""The scikit-learn source: its 8x8 digits, with a stratified held-out test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fairat.data.containers import RawDataset
from fairat.data.prepared import stratified_val_split
from fairat.data.sources import register_dataset, require, resolve_options

#: Pixel mean/std of all 1797 digits after scaling to [0, 1] (computed once; a test checks them).
DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3759,)


@register_dataset(
    "digits",
    mean=DIGITS_MEAN,
    std=DIGITS_STD,
    augment=False,
    clamp=True,
    num_classes=10,
    how_to_get="it ships with scikit-learn, so reinstall scikit-learn",
    defaults={"test_fraction": 0.3, "seed": 0},
)
def _load_digits(root: Path, options: dict) -> RawDataset:
    """scikit-learn's 8x8 digits (1797 images, values 0..16) as uint8 ``(N, 1, 8, 8)``.

    Values are mapped to 0..255 by ``round(v * 255 / 16)`` (half up). The dataset has no official
    test split; we hold out a stratified ``test_fraction`` with :func:`stratified_val_split` and
    ``seed`` (a project choice, not a published protocol).
    """
    from sklearn.datasets import load_digits

    opts = resolve_options("digits", options)
    fraction = opts["test_fraction"]
    require("data.digits.test_fraction", 0 < fraction < 1, "in (0, 1)", fraction)
    require("data.digits.seed", opts["seed"] >= 0, "a non-negative integer", opts["seed"])
    bunch = load_digits()
    pixels = np.floor(bunch.data * (255.0 / 16.0) + 0.5).astype(np.uint8)
    x = pixels.reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_val_split(y, fraction, opts["seed"])
    return RawDataset(
        x_train=x[train_idx],
        y_train=y[train_idx],
        x_test=x[test_idx],
        y_test=y[test_idx],
        class_names=[str(d) for d in range(10)],
    )
