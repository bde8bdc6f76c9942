"""Training methods, one module each, registered by name (docs/specification.md).

Every module in this package except ``base`` and ``registry`` is imported here, so a new method
needs only its own file with ``@METHODS.register("name")``.
"""

import importlib
import pkgutil

from fairat.methods.base import EpochStats, Method, TrainContext
from fairat.methods.registry import METHODS

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "registry") and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["METHODS", "EpochStats", "Method", "TrainContext"]
