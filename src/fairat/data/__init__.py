"""Datasets: containers, split and prepared-file format, augmentation, one module per source.
Imports only fairat.config.registry (and DamagedFileError from fairat.runtime.checkpoint), never later stages."""

# Importing the source modules registers their datasets in DATASETS.
from fairat.data import digits, folders, synthetic, torchvision  # noqa: F401
from fairat.data.augment import augment_batch, to_float
from fairat.data.containers import DatasetCorruptError, DatasetMissingError, SplitData
from fairat.data.prepared import load_prepared, prepare
from fairat.data.sources import DATASETS, resolve_options

__all__ = [
    "DATASETS",
    "DatasetCorruptError",
    "DatasetMissingError",
    "SplitData",
    "augment_batch",
    "load_prepared",
    "prepare",
    "resolve_options",
    "to_float",
]
