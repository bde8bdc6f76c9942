"""Datasets: containers, the split and prepared-file format, batch augmentation, data sources.

May import fairat.checkpoint (for DamagedFileError) and fairat.registry; nothing above data.
"""

from fairat.data.torchvision import (
    DATASETS,
    DIGITS_MEAN,
    DIGITS_STD,
    DatasetCorruptError,
    DatasetMissingError,
    SplitData,
    arrange_tiny_imagenet,
    augment_batch,
    load_prepared,
    prepare,
    resolve_options,
    stratified_val_split,
    to_float,
)

__all__ = [
    "DATASETS",
    "DIGITS_MEAN",
    "DIGITS_STD",
    "DatasetCorruptError",
    "DatasetMissingError",
    "SplitData",
    "arrange_tiny_imagenet",
    "augment_batch",
    "load_prepared",
    "prepare",
    "resolve_options",
    "stratified_val_split",
    "to_float",
]
