"""The torchvision sources: CIFAR-10, CIFAR-100, SVHN and STL-10.

They are read through ``torchvision.datasets``, whose own md5 checks guard the files; see
:func:`_load_torchvision` for exactly what is verified. Without ``download: true`` nothing is
fetched: missing files raise :class:`~fairat.data.containers.DatasetMissingError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fairat.data.containers import DatasetCorruptError, DatasetMissingError, RawDataset
from fairat.data.sources import DATASETS, Loader, register_dataset, require, resolve_options

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
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity, extract_archive

    spec = DATASETS.get(name)
    opts = resolve_options(name, options)
    root = Path(root)
    files = _expected_files(cls)

    def make(train: bool, download: bool) -> Any:
        if issubclass(cls, CIFAR10):  # and CIFAR100
            return cls(str(root), train=train, download=download)
        return cls(str(root), split="train" if train else "test", download=download)

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
            make(train, True)
    bad = _bad_md5(root, files)
    if bad:
        raise DatasetCorruptError(name, root, bad)

    x_train, y_train, classes = convert(make(True, False))
    x_test, y_test, test_classes = convert(make(False, False))
    if classes != test_classes:
        raise ValueError(f"{name}: train classes {classes} differ from test classes {test_classes}")
    if "image_size" in opts:
        size = opts["image_size"]
        require(f"data.{name}.image_size", size >= 1, "a positive integer", size)
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


def _torchvision_dataset(
    name: str,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    num_classes: int,
    files: str,
    extra_defaults: dict | None = None,
) -> Callable[[Loader], Loader]:
    """:func:`register_dataset` with what the torchvision sources share: augmented, clamped
    images with the ``download`` and ``normalize`` options; ``files`` says what to place."""
    return register_dataset(
        name,
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


# Commonly quoted per-channel statistics of the training sets in [0, 1] pixel units (the std is
# over all pixels of a channel), as listed e.g. in Lightning-Bolts' dataset_normalizations; not
# recomputed here because the raw data is not available offline.
@_torchvision_dataset(
    "cifar10",
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2471, 0.2435, 0.2616),
    num_classes=10,
    files="torchvision's CIFAR-10 archive (cifar-10-python.tar.gz) or cifar-10-batches-py/",
)
def _load_cifar10(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import CIFAR10

    return _load_torchvision("cifar10", root, options, CIFAR10, _convert_cifar)


@_torchvision_dataset(
    "cifar100",
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
    num_classes=100,
    files="torchvision's CIFAR-100 archive (cifar-100-python.tar.gz) or cifar-100-python/",
)
def _load_cifar100(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import CIFAR100

    return _load_torchvision("cifar100", root, options, CIFAR100, _convert_cifar)


@_torchvision_dataset(
    "svhn",
    mean=(0.4377, 0.4438, 0.4728),
    std=(0.1980, 0.2010, 0.1970),
    num_classes=10,
    files="train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/",
)
def _load_svhn(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import SVHN

    return _load_torchvision("svhn", root, options, SVHN, _convert_svhn)


@_torchvision_dataset(
    "stl10",
    mean=(0.4467, 0.4398, 0.4066),
    std=(0.2603, 0.2566, 0.2713),
    num_classes=10,
    files="torchvision's STL-10 archive (stl10_binary.tar.gz) or stl10_binary/",
    extra_defaults={"image_size": 96},  # native; the DAFA/TRIX recipe resizes to 64
)
def _load_stl10(root: Path, options: dict) -> RawDataset:
    from torchvision.datasets import STL10

    return _load_torchvision("stl10", root, options, STL10, _convert_stl10)
