"""Datasets: containers, split and prepared-file format, augmentation, one module per source.
Imports only fairat.config.registry and fairat.runtime (DamagedFileError), never later stages."""

from fairat.config.registry import import_modules
from fairat.data.augment import augment_batch, to_float
from fairat.data.containers import DatasetCorruptError, DatasetMissingError, SplitData
from fairat.data.prepared import load_prepared, prepare
from fairat.data.sources import DATASETS, resolve_options

import_modules(__name__, __path__)  # each source module registers its datasets

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
