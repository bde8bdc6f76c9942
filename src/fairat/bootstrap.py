"""Class-stratified bootstrap of class-wise accuracy: honest intervals for worst-class numbers.

Worst-class accuracy is a minimum over noisy per-class estimates, so it is biased low, and a
t-interval over a few seeds leaves out the test-sample noise of every class (about 1.5 points
per class at 1,000 test images). Two bootstraps address this:

- **Over test samples** (:func:`class_bootstrap`, :func:`bootstrap_tables`): for one run, seed,
  checkpoint and attack, the test samples are resampled with replacement within each class
  (class-stratified, so every replicate keeps each class's n_c). The correctness flags are
  binary, so resampling the n_c flags of a class with k_c correct is *exactly* drawing
  Binomial(n_c, k_c / n_c) correct ones: the bootstrap needs only the per-class counts
  (accuracy and n in classwise.csv), and B replicates of K classes are one (B, K) binomial
  draw. From each replicate: the average over classes, the worst class, the gap (best class
  minus worst, :func:`fairat.metrics.summarize`) and which class is worst (ties shared
  equally), giving percentile 95 % intervals and how often each class is the worst one.
- **Over seeds and test samples** (:func:`seed_class_bootstrap`, the ``worst_ci95_lo`` and
  ``worst_ci95_hi`` columns of summary.csv): each replicate resamples the S seeds with
  replacement, then the test samples within each class of each drawn seed, and averages the
  drawn seeds' worst-class accuracies, the bootstrap counterpart of ``worst_mean``. With one
  seed it is the sample-level interval of that seed.

Each table row draws from its own generator, seeded with :data:`BOOTSTRAP_SEED` and a hash of
the row's identity, so a row's interval does not change when other runs are added.
Percentile intervals of a minimum inherit its low bias; ``bias`` (the replicates' mean minus
the estimate) is the bootstrap's estimate of it and is negative when classes are close.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

BOOTSTRAP_SAMPLES = 1000  # B, replicates per row
BOOTSTRAP_SEED = 0
STATISTICS = ("average", "worst", "gap")
LEVEL = 0.95


def generator(seed: int, *key: object) -> np.random.Generator:
    """A generator for one table row: ``seed`` and a CRC-32 of the row's identity."""
    return np.random.default_rng([seed, zlib.crc32(repr(tuple(map(str, key))).encode())])


def counts(accuracy: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Correct samples per class from accuracy and n (0 where n is 0 or accuracy NaN)."""
    accuracy, n = np.asarray(accuracy, dtype=np.float64), np.asarray(n, dtype=np.int64)
    return np.where(n > 0, np.rint(np.nan_to_num(accuracy) * n), 0).astype(np.int64)


def class_bootstrap(
    correct: np.ndarray,
    n: np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(samples, ..., K) bootstrap accuracies of classes with ``correct`` of ``n`` samples right.

    Resampling a class's n_c binary flags with replacement gives Binomial(n_c, k_c / n_c)
    correct ones, so one binomial draw per replicate and class is the class-stratified
    bootstrap over test samples, exactly. Classes with n = 0 are NaN in every replicate.
    ``correct`` and ``n`` may carry leading axes (seeds); the replicates come first.
    """
    correct, n = np.asarray(correct, dtype=np.int64), np.asarray(n, dtype=np.int64)
    if correct.shape != n.shape or (correct < 0).any() or (correct > n).any():
        raise ValueError("need 0 <= correct <= n, of the same shape")
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    p = np.where(n > 0, correct / np.maximum(n, 1), 0.0)
    drawn = rng.binomial(n, p, size=(samples, *n.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, drawn / n, np.nan)


def statistics(acc: np.ndarray) -> dict[str, np.ndarray]:
    """Average over classes, worst class and gap (max - min) along the last axis, NaN classes
    (n = 0) left out, as in :func:`fairat.metrics.summarize`."""
    return {
        "average": np.nanmean(acc, axis=-1),
        "worst": np.nanmin(acc, axis=-1),
        "gap": np.nanmax(acc, axis=-1) - np.nanmin(acc, axis=-1),
    }


def worst_frequency(acc: np.ndarray) -> np.ndarray:
    """How often each class is the worst one over replicates ``acc`` (B, K); a tie of m classes
    counts 1/m for each, so the frequencies add up to 1. NaN for classes with n = 0."""
    filled = np.where(np.isnan(acc), np.inf, acc)
    lowest = filled == filled.min(axis=-1, keepdims=True)
    share = lowest / lowest.sum(axis=-1, keepdims=True)
    freq = share.mean(axis=0)
    return np.where(np.isnan(acc).all(axis=0), np.nan, freq)


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates."""
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def seed_class_bootstrap(
    correct: np.ndarray,
    n: np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """(samples,) replicates of the mean over seeds of the worst-class accuracy, resampling the
    seeds (rows of ``correct`` and ``n``, shape (S, K)) with replacement and then the test
    samples within each class of each drawn seed (:func:`class_bootstrap`).

    Its variance is (Var_seeds(w) + mean over seeds of Var_samples(w)) / S by the law of total
    variance, w being a seed's worst-class accuracy."""
    correct, n = np.atleast_2d(correct), np.atleast_2d(n)
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    seeds = len(n)
    pick = rng.integers(0, seeds, size=(samples, seeds))
    p = np.where(n > 0, correct / np.maximum(n, 1), 0.0)[pick]  # (B, S, K)
    drawn = rng.binomial(n[pick], p)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n[pick] > 0, drawn / n[pick], np.nan)
    return np.nanmin(acc, axis=-1).mean(axis=-1)


def seed_class_counts(
    seeds: np.ndarray, classes: np.ndarray, accuracy: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(correct, n), each (S, K), from classwise.csv columns of one summary block (a class a seed
    lacks has n = 0)."""
    seed_ids, s = np.unique(np.asarray(seeds), return_inverse=True)
    class_ids, k = np.unique(np.asarray(classes).astype(str), return_inverse=True)
    correct = np.zeros((len(seed_ids), len(class_ids)), dtype=np.int64)
    total = np.zeros_like(correct)
    correct[s, k], total[s, k] = counts(accuracy, n), np.asarray(n, dtype=np.int64)
    return correct, total


def seed_class_interval(
    correct: np.ndarray,
    n: np.ndarray,
    key: tuple,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """The two-level 95 % interval of the mean worst-class accuracy of one summary block (one
    dataset, model, run, eps, checkpoint and attack), from its (S, K) counts
    (:func:`seed_class_counts`), drawn from a generator seeded with ``seed`` and the block's
    ``key``. A seed with no evaluated sample is left out; NaN when none has one or with
    ``samples`` 0 (no bootstrap)."""
    correct, n = np.atleast_2d(correct), np.atleast_2d(n)
    evaluated = n.sum(axis=1) > 0
    if samples < 1 or not evaluated.any():
        return math.nan, math.nan
    rng = generator(seed, "seeds", *key)
    return interval(seed_class_bootstrap(correct[evaluated], n[evaluated], samples, rng))


BOOTSTRAP_KEYS = ["dataset", "model", "run", "method", "eps", "seed", "checkpoint", "attack"]


def bootstrap_tables(
    classwise: pd.DataFrame,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """bootstrap.csv and worst_class_frequency.csv from classwise.csv.

    bootstrap.csv: per dataset, model, run, method, eps, seed, checkpoint and attack, and per
    statistic (average, worst, gap): the estimate from the test split, the bootstrap standard
    error, bias (replicates' mean minus estimate), the percentile 95 % interval and B.
    worst_class_frequency.csv: the same keys and class, and the fraction of replicates in which
    that class is the worst one."""
    rows, freq_rows = [], []
    classes = classwise["class"].to_numpy()
    accuracy, count = classwise["accuracy"].to_numpy(), classwise["n"].to_numpy(dtype=np.int64)
    for key, at in classwise.groupby(BOOTSTRAP_KEYS, sort=False).indices.items():
        ident = dict(zip(BOOTSTRAP_KEYS, key, strict=True))
        n = count[at]
        if not (n > 0).any():
            continue
        correct = counts(accuracy[at], n)
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = statistics(np.where(n > 0, correct / n, np.nan))
        acc = class_bootstrap(correct, n, samples, generator(seed, *key))
        for name, values in statistics(acc).items():
            lo, hi = interval(values)
            estimate = float(observed[name])
            rows.append(
                {
                    **ident,
                    "statistic": name,
                    "estimate": estimate,
                    "se": float(values.std(ddof=1)),
                    "bias": float(values.mean() - estimate),
                    "ci95_lo": lo,
                    "ci95_hi": hi,
                    "replicates": samples,
                }
            )
        for cls, f in zip(classes[at], worst_frequency(acc), strict=True):
            freq_rows.append({**ident, "class": cls, "frequency": float(f)})
    columns = [*BOOTSTRAP_KEYS, "statistic", "estimate", "se", "bias", "ci95_lo", "ci95_hi"]
    return (
        pd.DataFrame(rows, columns=[*columns, "replicates"]),
        pd.DataFrame(freq_rows, columns=[*BOOTSTRAP_KEYS, "class", "frequency"]),
    )
