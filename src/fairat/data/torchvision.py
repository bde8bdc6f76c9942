"""Datasets: raw loading, stratified train/val split, prepared ``.npz`` files, batch augmentation.

Every dataset is a :class:`DatasetSpec` in the :data:`DATASETS` registry. A spec's ``load`` turns
a raw directory and the user's ``data.<name>`` options into a :class:`RawDataset` (uint8 NCHW
images, or float32 feature vectors for the synthetic Gaussian task). :func:`prepare` carves a
validation set out of the training set with :func:`stratified_val_split` and writes everything to
one ``.npz`` file (no pickles) that :func:`load_prepared` reads back as a :class:`SplitData`.

Images stay uint8 in memory and on the accelerator; :func:`to_float` maps a batch to [0, 1] and
:func:`augment_batch` applies the usual CIFAR augmentation (pad-4 random crop and horizontal flip)
to a whole batch at once. Normalisation by ``mean``/``std`` happens inside the models, so attacks
work in pixel space.

Torchvision datasets (CIFAR-10/100, SVHN, STL-10) are read through ``torchvision.datasets``, whose
own md5 checks guard the files; see :func:`_load_torchvision` for exactly what is verified.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fairat.checkpoint import DamagedFileError
from fairat.registry import Registry

#: Bumped when the layout of prepared ``.npz`` files changes.
FORMAT_VERSION = 1

_ARRAY_KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


# --------------------------------------------------------------------------------------------
# Data containers and errors
# --------------------------------------------------------------------------------------------


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


DATASETS: Registry[DatasetSpec] = Registry("dataset")


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def resolve_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate the ``data.<name>`` options of a dataset and fill in defaults.

    Unknown keys, missing required keys and values of the wrong type raise ``ValueError``
    naming the config key (``data.<name>.<key>``). Floats accept ints; paths become strings.
    """
    spec = DATASETS.get(name)
    given = dict(options or {})
    allowed = sorted([*spec.defaults, *spec.required])
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        keys = ", ".join(f"data.{name}.{k}" for k in unknown)
        valid = ", ".join(allowed) if allowed else "(none)"
        raise ValueError(f"unknown option(s) {keys}; allowed keys for {name!r}: {valid}")
    for key in spec.required:
        if given.get(key) is None:
            raise ValueError(f"data.{name}.{key} is required for dataset {name!r}")
    resolved = dict(spec.defaults)
    for key, value in given.items():
        resolved[key] = _check_type(f"data.{name}.{key}", value, spec.defaults.get(key))
    return resolved


def _check_type(where: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of ``default`` where that is lossless, else raise."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(default, bool):
        expected, ok = "true or false", isinstance(value, bool)
    elif isinstance(default, int):
        expected, ok = "an integer", isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        expected, ok = "a number", isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        expected, ok = "", True
    if not ok:
        raise ValueError(f"{where}: expected {expected}, got {value!r}")
    return value


def _require(where: str, ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{where}: must be {what}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Splitting, preparing, loading
# --------------------------------------------------------------------------------------------


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
    read raises :class:`fairat.checkpoint.DamagedFileError` naming it."""
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


# --------------------------------------------------------------------------------------------
# Tensors: scaling and augmentation
# --------------------------------------------------------------------------------------------


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]; floating-point tensors are returned unchanged."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if x.is_floating_point():
        return x
    raise TypeError(f"to_float expects uint8 or floating-point input, got {x.dtype}")


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    pad: int = 4,
    *,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` plus random horizontal flip, per sample.

    Same distribution as torchvision's ``RandomCrop(H, padding=pad)`` followed by
    ``RandomHorizontalFlip()``: each image gets its own offset ``(dy, dx)`` uniform in
    ``{0..2 pad}^2`` into the padded image and is mirrored with probability 1/2. The whole batch
    is done with one gather on ``x``'s device (the batched-GPU-augmentation idea of Keller
    Jordan's airbench, https://github.com/KellerJordan/cifar10-airbench, implemented here with
    index grids). Pixels are copied, never interpolated. Random numbers come from ``generator``
    (on any device; they are moved to ``x``'s device) or the global RNG when it is ``None``.
    """
    if x.ndim != 4:
        raise ValueError(f"augment_batch expects (N, C, H, W), got shape {tuple(x.shape)}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, _, h, w = x.shape
    rand_device = generator.device if generator is not None else x.device
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rand_device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=rand_device)
    mirror = torch.randint(0, 2, (n,), generator=generator, device=rand_device).bool()
    dy, dx, mirror = dy.to(x.device), dx.to(x.device), mirror.to(x.device)
    if not flip:
        mirror = torch.zeros_like(mirror)

    padded = F.pad(x, (pad, pad, pad, pad)) if pad else x
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H) rows of the padded image
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(mirror[:, None], cols.flip(1), cols)  # a flip reverses the column order
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices separated by a slice broadcast to (N, H, W) and move to the front.
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------------------------
# digits (scikit-learn)
# --------------------------------------------------------------------------------------------

#: Pixel mean/std of all 1797 digits after scaling to [0, 1] (computed once; a test checks them).
DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3759,)


def _load_digits(root: Path, options: dict) -> RawDataset:
    """scikit-learn's 8x8 digits (1797 images, values 0..16) as uint8 ``(N, 1, 8, 8)``.

    Values are mapped to 0..255 by ``round(v * 255 / 16)`` (half up). The dataset has no official
    test split; we hold out a stratified ``test_fraction`` with :func:`stratified_val_split` and
    ``seed`` (a project choice, not a published protocol).
    """
    from sklearn.datasets import load_digits

    opts = resolve_options("digits", options)
    fraction = opts["test_fraction"]
    _require("data.digits.test_fraction", 0 < fraction < 1, "in (0, 1)", fraction)
    _require("data.digits.seed", opts["seed"] >= 0, "a non-negative integer", opts["seed"])
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


DATASETS.register("digits")(
    DatasetSpec(
        name="digits",
        load=_load_digits,
        mean=DIGITS_MEAN,
        std=DIGITS_STD,
        augment=False,
        clamp=True,
        num_classes=10,
        how_to_get="it ships with scikit-learn, so reinstall scikit-learn",
        defaults={"test_fraction": 0.3, "seed": 0},
    )
)


# --------------------------------------------------------------------------------------------
# gaussian (synthetic)
# --------------------------------------------------------------------------------------------


def _load_gaussian(root: Path, options: dict) -> RawDataset:
    """The binary Gaussian model of Xu et al., "To be Robust or to be Fair: Towards Fairness in
    Adversarial Training" (ICML 2021), Section 2.

    ``y = +1`` with probability ``alpha``; ``x | y=+1 ~ N(mu_pos * 1, sigma_pos^2 I_d)`` and
    ``x | y=-1 ~ N(-mu_neg * 1, sigma_neg^2 I_d)``. Label 1 is ``y=+1`` ("positive"), label 0 is
    ``y=-1`` ("negative"). Train and test use independent streams derived from ``seed``, so
    changing ``n_test`` leaves the training set unchanged.
    """
    opts = resolve_options("gaussian", options)
    for key in ("d", "n_train", "n_test"):
        _require(f"data.gaussian.{key}", opts[key] >= 1, "a positive integer", opts[key])
    for key in ("sigma_pos", "sigma_neg"):
        _require(f"data.gaussian.{key}", opts[key] > 0, "positive", opts[key])
    _require("data.gaussian.alpha", 0 < opts["alpha"] < 1, "in (0, 1)", opts["alpha"])
    _require("data.gaussian.seed", opts["seed"] >= 0, "a non-negative integer", opts["seed"])

    def sample(stream: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([opts["seed"], stream])
        positive = rng.random(n) < opts["alpha"]
        z = rng.standard_normal((n, opts["d"]))
        x = np.where(
            positive[:, None],
            opts["mu_pos"] + opts["sigma_pos"] * z,
            -opts["mu_neg"] + opts["sigma_neg"] * z,
        )
        return x.astype(np.float32), positive.astype(np.int64)

    x_train, y_train = sample(0, opts["n_train"])
    x_test, y_test = sample(1, opts["n_test"])
    return RawDataset(x_train, y_train, x_test, y_test, class_names=["negative", "positive"])


DATASETS.register("gaussian")(
    DatasetSpec(
        name="gaussian",
        load=_load_gaussian,
        mean=(0.0,),  # features are used as they are (one value broadcasts over all d)
        std=(1.0,),
        augment=False,
        clamp=False,
        num_classes=2,
        how_to_get="it is synthetic and needs no files",
        defaults={
            "d": 10,
            "mu_pos": 1.0,
            "mu_neg": 1.0,
            "sigma_pos": 1.0,
            "sigma_neg": 2.0,
            "alpha": 0.5,
            "n_train": 4000,
            "n_test": 2000,
            "seed": 0,
        },
    )
)


# --------------------------------------------------------------------------------------------
# torchvision datasets: cifar10, cifar100, svhn, stl10
# --------------------------------------------------------------------------------------------

_STL10_CLASSES = [
    "airplane",
    "bird",
    "car",
    "cat",
    "deer",
    "dog",
    "horse",
    "monkey",
    "ship",
    "truck",
]


def _expected_files(cls: type) -> list[tuple[str, str]]:
    """``(path relative to root, md5)`` of every file torchvision checks for ``cls``.

    Read from the class attributes at call time, so they are exactly torchvision's checksums.
    """
    from torchvision.datasets import CIFAR10, STL10, SVHN

    if issubclass(cls, CIFAR10):
        files = [(f"{cls.base_folder}/{f}", md5) for f, md5 in cls.train_list + cls.test_list]
        return [*files, (f"{cls.base_folder}/{cls.meta['filename']}", cls.meta["md5"])]
    if issubclass(cls, SVHN):
        return [(cls.split_list[s][1], cls.split_list[s][2]) for s in ("train", "test")]
    if issubclass(cls, STL10):
        return [(f"{cls.base_folder}/{f}", md5) for f, md5 in cls.train_list + cls.test_list]
    raise TypeError(f"no file list known for {cls.__name__}")


def _bad_md5(root: Path, files: list[tuple[str, str]]) -> list[str]:
    from torchvision.datasets.utils import check_integrity

    return [rel for rel, md5 in files if not check_integrity(root / rel, md5)]


def _load_torchvision(
    name: str,
    root: Path,
    options: dict,
    cls: type,
    make: Callable[[Path, bool, bool], Any],
    convert: Callable[[Any], tuple[np.ndarray, np.ndarray, list[str]]],
) -> RawDataset:
    """Load a torchvision dataset with md5 verification, offline unless ``download`` is set.

    What is verified (torchvision 0.29 source, ``torchvision/datasets/{cifar,svhn,stl10}.py``
    and ``utils.py``):

    * Downloads: ``download_url`` checks the md5 of the downloaded archive (CIFAR/STL-10
      ``.tar.gz``, SVHN ``.mat``) and raises if it differs.
    * Loading: the CIFAR-10/100 and SVHN constructors call ``_check_integrity`` (md5 of every
      data batch file / of the split's ``.mat``) and raise ``RuntimeError`` on a mismatch; CIFAR
      also checks the md5 of ``batches.meta``/``meta`` in ``_load_meta``. STL-10 checks the md5
      of all its ``.bin`` files only when ``download=False`` (its ``download()`` ignores the
      result of the check it runs afterwards).

    On top of that we check every file in :func:`_expected_files` against torchvision's md5
    before constructing the datasets, which covers the STL-10 gap and lets the error name the
    bad files (:class:`DatasetCorruptError`). If only the archive (``cifar-10-python.tar.gz`` or
    ``stl10_binary.tar.gz``) is present, its md5 is checked and it is extracted offline.
    Missing files without ``download: true`` raise :class:`DatasetMissingError`.
    """
    from torchvision.datasets.utils import check_integrity, extract_archive

    spec = DATASETS.get(name)
    opts = resolve_options(name, options)
    root = Path(root)
    files = _expected_files(cls)

    def missing() -> list[str]:
        return [rel for rel, _ in files if not (root / rel).is_file()]

    archive = getattr(cls, "filename", None)
    if missing() and archive and (root / archive).is_file():
        if not check_integrity(root / archive, cls.tgz_md5):
            raise DatasetCorruptError(name, root, [archive])
        extract_archive(root / archive, root)
    if missing():
        if not opts["download"]:
            folders = sorted({rel.split("/")[0] for rel in missing()})
            looked_for = " and ".join(folders) + (f" or {archive}" if archive else "")
            raise DatasetMissingError(name, root, looked_for, spec.how_to_get)
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            make(root, train, True)
    bad = _bad_md5(root, files)
    if bad:
        raise DatasetCorruptError(name, root, bad)

    x_train, y_train, classes = convert(make(root, True, False))
    x_test, y_test, test_classes = convert(make(root, False, False))
    if classes != test_classes:
        raise ValueError(f"{name}: train classes {classes} differ from test classes {test_classes}")
    if "image_size" in opts:
        size = opts["image_size"]
        _require(f"data.{name}.image_size", size >= 1, "a positive integer", size)
        x_train, x_test = resize_images(x_train, size), resize_images(x_test, size)
    return RawDataset(x_train, y_train, x_test, y_test, class_names=classes)


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 ``(N, C, H, W)`` images to ``size`` x ``size`` with PIL's bilinear filter.

    What torchvision's ``transforms.Resize(size)`` does to a square PIL image, once, when the
    dataset is prepared, instead of in every epoch's transform (rucy74/DAFA ``datasets.py``
    lines 24-36 resize STL-10 to 64 that way, before the crop). Images already that size are
    returned unchanged.
    """
    from PIL import Image

    if x.shape[-2:] == (size, size):
        return x
    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.uint8)
    for i, image in enumerate(x):
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        pil = Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)
        resized = np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR), np.uint8)
        out[i] = resized.reshape(size, size, -1).transpose(2, 0, 1)
    return out


def _convert_cifar(ds: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))  # NHWC
    return x, np.asarray(ds.targets, dtype=np.int64), [str(c) for c in ds.classes]


def _convert_svhn(ds: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.ascontiguousarray(ds.data, dtype=np.uint8)  # already NCHW; label 10 already mapped to 0
    return x, np.asarray(ds.labels, dtype=np.int64), [str(d) for d in range(10)]


def _convert_stl10(ds: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.ascontiguousarray(ds.data, dtype=np.uint8)  # NCHW (a transposed view in torchvision)
    classes = [str(c) for c in getattr(ds, "classes", _STL10_CLASSES)]
    return x, np.asarray(ds.labels, dtype=np.int64), classes


def _load_cifar10(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import CIFAR10

    def make(r: Path, train: bool, download: bool) -> Any:
        return CIFAR10(str(r), train=train, download=download)

    return _load_torchvision("cifar10", root, options, CIFAR10, make, _convert_cifar)


def _load_cifar100(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import CIFAR100

    def make(r: Path, train: bool, download: bool) -> Any:
        return CIFAR100(str(r), train=train, download=download)

    return _load_torchvision("cifar100", root, options, CIFAR100, make, _convert_cifar)


def _load_svhn(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import SVHN

    def make(r: Path, train: bool, download: bool) -> Any:
        return SVHN(str(r), split="train" if train else "test", download=download)

    return _load_torchvision("svhn", root, options, SVHN, make, _convert_svhn)


def _load_stl10(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import STL10

    def make(r: Path, train: bool, download: bool) -> Any:
        return STL10(str(r), split="train" if train else "test", download=download)

    return _load_torchvision("stl10", root, options, STL10, make, _convert_stl10)


def _register_torchvision(
    name: str,
    load: Callable[[Path, dict], RawDataset],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    num_classes: int,
    files: str,
    extra_defaults: dict | None = None,
) -> None:
    spec = DatasetSpec(
        name=name,
        load=load,
        mean=mean,
        std=std,
        augment=True,
        clamp=True,
        num_classes=num_classes,
        how_to_get=(
            f"set data.{name}.download: true on a machine with internet, or place {files} there"
        ),
        defaults={"download": False, "normalize": True, **(extra_defaults or {})},
    )
    DATASETS.register(name)(spec)


# Commonly quoted per-channel statistics of the training sets in [0, 1] pixel units (the std is
# over all pixels of a channel), as listed e.g. in Lightning-Bolts' dataset_normalizations; not
# recomputed here because the raw data is not available offline.
_register_torchvision(
    "cifar10",
    _load_cifar10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2471, 0.2435, 0.2616),
    num_classes=10,
    files="torchvision's CIFAR-10 archive (cifar-10-python.tar.gz) or cifar-10-batches-py/",
)
_register_torchvision(
    "cifar100",
    _load_cifar100,
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
    num_classes=100,
    files="torchvision's CIFAR-100 archive (cifar-100-python.tar.gz) or cifar-100-python/",
)
_register_torchvision(
    "svhn",
    _load_svhn,
    mean=(0.4377, 0.4438, 0.4728),
    std=(0.1980, 0.2010, 0.1970),
    num_classes=10,
    files="train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/",
)
_register_torchvision(
    "stl10",
    _load_stl10,
    mean=(0.4467, 0.4398, 0.4066),
    std=(0.2603, 0.2566, 0.2713),
    num_classes=10,
    files="torchvision's STL-10 archive (stl10_binary.tar.gz) or stl10_binary/",
    extra_defaults={"image_size": 96},  # native; the DAFA/TRIX recipe resizes to 64
)


# --------------------------------------------------------------------------------------------
# imagefolder
# --------------------------------------------------------------------------------------------

_IMAGEFOLDER_HOW = (
    "set data.imagefolder.path to a folder holding train/<class>/<image> and "
    "test/<class>/<image> (torchvision ImageFolder layout)"
)


def _load_imagefolder(root: Path, options: dict) -> RawDataset:
    """Images from ``<path>/train`` and ``<path>/test`` in torchvision's ImageFolder layout.

    Every image is converted to RGB and resized to ``image_size`` x ``image_size`` (PIL bilinear,
    only when its size differs). Class names are the sorted folder names of ``train/``; ``test/``
    must have the same folders. ``root`` is unused: the images live at ``data.imagefolder.path``
    (relative paths are taken from the working directory).
    """
    from PIL import Image
    from torchvision.datasets import ImageFolder

    opts = resolve_options("imagefolder", options)
    size = opts["image_size"]
    _require("data.imagefolder.image_size", size >= 1, "a positive integer", size)
    _require("data.imagefolder.path", isinstance(opts["path"], str), "a path", opts["path"])
    base = Path(opts["path"])

    def read(file: str) -> np.ndarray:
        with Image.open(file) as img:
            rgb = img.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)  # HWC -> CHW

    parts = {}
    for part in ("train", "test"):
        folder = base / part
        if not folder.is_dir():
            raise DatasetMissingError("imagefolder", base, f"{part}/", _IMAGEFOLDER_HOW)
        ds = ImageFolder(str(folder), loader=read)
        x = np.stack([ds[i][0] for i in range(len(ds))]).astype(np.uint8, copy=False)
        parts[part] = (x, np.asarray(ds.targets, dtype=np.int64), list(ds.classes))
    (x_train, y_train, classes), (x_test, y_test, test_classes) = (
        parts["train"],
        parts["test"],
    )
    if classes != test_classes:
        raise ValueError(
            f"imagefolder {base}: test/ classes {test_classes} differ from train/ classes {classes}"
        )
    return RawDataset(x_train, y_train, x_test, y_test, class_names=classes)


def arrange_tiny_imagenet(source: Path | str, dest: Path | str) -> dict[str, int]:
    """Lay Tiny-ImageNet-200 out as ``imagefolder`` reads it, with symbolic links (no copies).

    ``source`` is the extracted ``tiny-imagenet-200/`` of http://cs231n.stanford.edu/
    tiny-imagenet-200.zip: ``train/<wnid>/images/*.JPEG`` (500 per class, 64x64) and
    ``val/images/*.JPEG`` with their classes in ``val/val_annotations.txt`` (file, wnid, box);
    its ``test/`` has no labels. ``dest`` gets ``train/<wnid>`` (a link to the class's images)
    and ``test/<wnid>/`` holding a link to each of the class's 50 validation images: the
    labelled validation set becomes the test split, as in the papers that report
    Tiny-ImageNet. Returns the number of images linked per part. Refuses a ``dest`` that exists.
    """
    source, dest = Path(source).resolve(), Path(dest)
    annotations = source / "val" / "val_annotations.txt"
    if not (source / "train").is_dir() or not annotations.is_file():
        raise DatasetMissingError(
            "tiny-imagenet",
            source,
            "train/ and val/val_annotations.txt",
            "extract tiny-imagenet-200.zip and pass its tiny-imagenet-200/ folder",
        )
    if dest.exists():
        raise FileExistsError(f"{dest} exists; pass a new folder (nothing was changed)")
    counts = {"train": 0, "test": 0}
    wnids = sorted(d.name for d in (source / "train").iterdir() if d.is_dir())
    for wnid in wnids:
        images = source / "train" / wnid / "images"
        (dest / "train").mkdir(parents=True, exist_ok=True)
        (dest / "train" / wnid).symlink_to(images, target_is_directory=True)
        counts["train"] += sum(1 for f in images.iterdir() if f.suffix.lower() == ".jpeg")
    for line in annotations.read_text().splitlines():
        if not line.strip():
            continue
        file, wnid = line.split("\t")[:2]
        if wnid not in wnids:
            raise ValueError(f"{annotations}: {file} has class {wnid!r}, which train/ lacks")
        (dest / "test" / wnid).mkdir(parents=True, exist_ok=True)
        (dest / "test" / wnid / file).symlink_to(source / "val" / "images" / file)
        counts["test"] += 1
    return counts


DATASETS.register("imagefolder")(
    DatasetSpec(
        name="imagefolder",
        load=_load_imagefolder,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        augment=True,
        clamp=True,
        num_classes=None,
        how_to_get=_IMAGEFOLDER_HOW,
        defaults={"image_size": 32, "normalize": True},
        required=("path",),
    )
)
