"""Training methods, one module each, registered by name (METHODS.md sections 1-7)."""

from fairat.methods import fgsm_at, natural, pgd_at, trades  # noqa: F401  (registration)
from fairat.methods.base import EpochStats, Method, TrainContext
from fairat.methods.registry import METHODS

__all__ = ["METHODS", "EpochStats", "Method", "TrainContext"]
