"""The image-folder source (torchvision's ImageFolder layout) and the Tiny-ImageNet arrangement.

``imagefolder`` reads ``train/<class>/<image>`` and ``test/<class>/<image>`` under
``data.imagefolder.path``; :func:`arrange_tiny_imagenet` links Tiny-ImageNet-200 into that layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fairat.data.containers import DatasetMissingError, RawDataset
from fairat.data.sources import register_dataset, require, resolve_options

_IMAGEFOLDER_HOW = (
    "set data.imagefolder.path to a folder holding train/<class>/<image> and "
    "test/<class>/<image> (torchvision ImageFolder layout)"
)


@register_dataset(
    "imagefolder",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    augment=True,
    clamp=True,
    num_classes=None,
    how_to_get=_IMAGEFOLDER_HOW,
    defaults={"image_size": 32, "normalize": True},
    required=("path",),
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
    require("data.imagefolder.image_size", size >= 1, "a positive integer", size)
    require("data.imagefolder.path", isinstance(opts["path"], str), "a path", opts["path"])
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
