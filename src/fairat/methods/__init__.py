"""Training methods, one module each, registered by name (docs/specification.md).

Every module in this package whose name does not start with ``_`` is imported here
(:func:`fairat.config.registry.import_modules`), so a new method needs only its own file with
``@METHODS.register("name")``.
"""

from fairat.config.registry import import_modules
from fairat.methods.base import EpochStats, Method, TrainContext
from fairat.methods.registry import METHODS

import_modules(__name__, __path__)

__all__ = ["METHODS", "EpochStats", "Method", "TrainContext"]
