"""Common corruptions, class by class (paper 003): corrupted test splits, flags, mCE.

The protocol is Hendrycks & Dietterich's (ICLR 2019, "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations"): 15 corruptions in 4 groups (noise, blur, weather,
digital) at 5 severities. Two sources of corrupted test images:

- ``cifar10c`` / ``cifar100c``: the published benchmark, ``<raw_dir>/CIFAR-10-C/<name>.npy``
  (50,000 x 32 x 32 x 3 uint8: severities 1..5, each the 10,000 test images in order) and
  ``labels.npy``; read, never regenerated. Those files were made with CIFAR-specific parameters
  (hendrycks/robustness, ``ImageNet-C/create_c/make_cifar_c.py``).
- ``generate``: any dataset's test split corrupted with the ``imagecorruptions`` package
  (Michaelis et al. 2019, ``imagecorruptions/corruptions.py``), which implements the ImageNet-C
  parameters, not the CIFAR ones: generated numbers are comparable between fairat runs, not with
  published CIFAR-10-C numbers. imagecorruptions refuses images under 32 x 32 pixels and takes
  RGB uint8 HWC: a smaller or grayscale image is resized to 32 x 32 (bilinear), given three
  channels, corrupted, and brought back (area resize, channel mean) [project choice, a deviation
  needed for 8 x 8 digits]. With imagecorruptions 1.1.2 on numpy 2 and scikit-image 0.26,
  ``glass_blur`` (scikit-image's removed ``multichannel`` argument) and ``fog`` (numpy's removed
  ``np.float_``) raise inside the package: they are refused for ``generate`` by the config
  check (:mod:`fairat.config.corruptions`, which holds the section's names and defaults), with
  that reason. The package draws from numpy's global generator; each (corruption,
  severity) is seeded with ``seed`` and its position (and impulse noise, which scikit-image draws
from its own generator, through :func:`_seeded_skimage_noise`), so the corrupted split is
reproducible.

Errors: E_{c,s} is 1 - the class-average accuracy of a model under corruption c at severity s.
The unnormalised mCE is the mean of E over corruptions and severities; the ImageNet-C mCE
normalises each corruption by a baseline model's errors, CE_c = sum_s E_{c,s} / sum_s
E^base_{c,s}, and averages CE_c over corruptions (:func:`mce`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from fairat.config.corruptions import key, split_key

MIN_SIDE = 32  # imagecorruptions refuses smaller images


def _corrupt_one(image: np.ndarray, name: str, severity: int) -> np.ndarray:
    """One CHW uint8 image through imagecorruptions (see the module docstring for small and
    grayscale images)."""
    import cv2
    from imagecorruptions import corrupt

    c, h, w = image.shape
    hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
    if c == 1:
        hwc = np.repeat(hwc, 3, axis=2)
    small = min(h, w) < MIN_SIDE
    if small:
        hwc = cv2.resize(hwc, (MIN_SIDE, MIN_SIDE), interpolation=cv2.INTER_LINEAR)
    out = np.asarray(corrupt(hwc, corruption_name=name, severity=severity))
    out = np.clip(np.rint(out.astype(np.float64)), 0, 255).astype(np.uint8)
    if out.shape[:2] != hwc.shape[:2]:  # a few corruptions return a slightly different size
        out = cv2.resize(out, (hwc.shape[1], hwc.shape[0]), interpolation=cv2.INTER_LINEAR)
    if small:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    if c == 1:
        out = np.rint(out.reshape(h, w, 3).mean(axis=2, keepdims=True)).astype(np.uint8)
    return out.reshape(h, w, c).transpose(2, 0, 1)


@contextlib.contextmanager
def _seeded_skimage_noise() -> Iterator[None]:
    """imagecorruptions' ``impulse_noise`` calls ``skimage.util.random_noise`` without a
    generator (``corruptions.py``, line 174), and scikit-image then draws from a fresh, unseeded
    one: while corrupting, that function gets a generator drawn from numpy's seeded global one,
    so impulse noise is reproducible too."""
    import skimage.util

    real = skimage.util.random_noise

    def seeded(image, *args, rng=None, **kwargs):
        if rng is None:
            rng = np.random.default_rng(np.random.randint(2**31 - 1))
        return real(image, *args, rng=rng, **kwargs)

    skimage.util.random_noise = seeded
    try:
        yield
    finally:
        skimage.util.random_noise = real


def generate(
    x: np.ndarray, names: list[str], severities: list[int], seed: int, progress: bool = True
) -> dict[str, np.ndarray]:
    """Corrupted copies of uint8 NCHW images, one array per ``key(name, severity)``."""
    from fairat.runtime.progress import progress_bar

    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(
            f"corruptions: generate needs uint8 images (N, C, H, W), got {x.dtype} "
            f"{x.shape}; this dataset has real-valued features"
        )
    out = {}
    jobs = [(n, s) for n in names for s in severities]
    with _seeded_skimage_noise():
        for i, (name, sev) in enumerate(progress_bar(jobs, desc="corruptions", enabled=progress)):
            np.random.seed((seed * 1_000_003 + i) % 2**32)  # imagecorruptions draws from it
            out[key(name, sev)] = np.stack([_corrupt_one(img, name, sev) for img in x])
    return out


def read_published(
    folder, names: list[str], severities: list[int], y_test: np.ndarray
) -> dict[str, np.ndarray]:
    """The published CIFAR-10-C / CIFAR-100-C arrays as NCHW uint8, checked against the test
    labels (the files hold the test split in order)."""
    from pathlib import Path

    folder = Path(folder)
    labels_path = folder / "labels.npy"
    missing = [p for p in [labels_path, *(folder / f"{n}.npy" for n in names)] if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"corruptions: {missing[0]} not found ({len(missing)} file(s) missing); download the "
            f"benchmark and extract it so that {folder}/<corruption>.npy and labels.npy exist"
        )
    n = len(y_test)
    labels = np.load(labels_path)
    out = {}
    for name in names:
        arr = np.load(folder / f"{name}.npy", mmap_mode="r")
        if arr.shape[1:] != (32, 32, 3) or len(arr) != 5 * n:
            raise ValueError(
                f"corruptions: {folder / name}.npy has shape {arr.shape}; expected "
                f"({5 * n}, 32, 32, 3) for a test split of {n} images"
            )
        for sev in severities:
            rows = slice((sev - 1) * n, sev * n)
            if not np.array_equal(labels[rows], y_test):
                raise ValueError(
                    f"corruptions: {labels_path} severity {sev} labels differ from "
                    "the prepared test split's (a different test set or order)"
                )
            out[key(name, sev)] = np.ascontiguousarray(np.asarray(arr[rows]).transpose(0, 3, 1, 2))
    return out


def mce(errors: dict[str, float], baseline: dict[str, float] | None = None) -> float:
    """Mean corruption error from ``errors[key(name, severity)]`` (in [0, 1]): the mean over
    corruptions and severities, or with ``baseline`` (the same keys) the ImageNet-C mCE, the
    mean over corruptions of sum_s E_{c,s} / sum_s E^base_{c,s}."""
    if baseline is None:
        return float(np.mean(list(errors.values())))
    by_name: dict[str, list[str]] = {}
    for k in errors:
        by_name.setdefault(split_key(k)[0], []).append(k)
    ratios = []
    for keys in by_name.values():
        base = sum(baseline[k] for k in keys)
        ratios.append(sum(errors[k] for k in keys) / base if base > 0 else np.nan)
    return float(np.mean(ratios))
