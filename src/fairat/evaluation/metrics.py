"""Class-wise accuracy from per-sample flags, and the per-run summaries (docs/specification.md#metrics).

Per-class accuracy divides by the true class count n_c, never by N / K.
"""

from __future__ import annotations

import numpy as np


def per_class_accuracy(flags: np.ndarray, labels: np.ndarray, num_classes: int) -> tuple:
    """(accuracy per class, count per class) over the evaluated samples.

    ``flags`` is boolean, or int8 with 1 correct, 0 wrong and -1 not evaluated. A class with no
    evaluated sample gets NaN accuracy and count 0.
    """
    flags = np.asarray(flags)
    labels = np.asarray(labels, dtype=np.int64)
    if flags.shape != labels.shape:
        raise ValueError(f"flags {flags.shape} and labels {labels.shape} differ in shape")
    if flags.dtype != bool:
        evaluated = flags >= 0
        flags, labels = flags[evaluated] == 1, labels[evaluated]
    n = np.bincount(labels, minlength=num_classes)
    correct = np.bincount(labels, weights=flags.astype(np.float64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, correct / np.maximum(n, 1), np.nan)
    return acc, n


def summarize(acc: np.ndarray, class_names: list[str]) -> dict:
    """Average over classes, worst class (value and name), population std and max - min gap.

    Classes with no test samples (NaN) are left out.
    """
    acc = np.asarray(acc, dtype=np.float64)
    present = ~np.isnan(acc)
    if not present.any():
        raise ValueError("no class has any sample: cannot summarise")
    values = acc[present]
    worst = int(np.flatnonzero(present)[np.argmin(values)])
    return {
        "average": float(values.mean()),
        "worst": float(values.min()),
        "worst_class": class_names[worst],
        "std": float(values.std(ddof=0)),
        "gap": float(values.max() - values.min()),
    }


def attack_report(flags: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Per-class accuracy and counts plus the summary, as written to the evaluation JSON."""
    acc, n = per_class_accuracy(flags, labels, len(class_names))
    return {
        "per_class": {
            name: {"accuracy": None if np.isnan(a) else float(a), "n": int(c)}
            for name, a, c in zip(class_names, acc, n, strict=True)
        },
        "overall": float(np.sum(n * np.nan_to_num(acc)) / n.sum()) if n.sum() else float("nan"),
        **summarize(acc, class_names),
    }
