"""The registry of data sources and the checking of their ``data.<name>`` options.

Every dataset is a :class:`~fairat.data.containers.DatasetSpec` in :data:`DATASETS`; each source
module (digits, synthetic, torchvision, folders) registers its own when ``fairat.data`` is
imported. :func:`resolve_options` validates a dataset's options against its spec's defaults.
A new source is a module in this package that calls ``DATASETS.register(name)(DatasetSpec(...))``
and is listed in the package ``__init__``'s import of the source modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fairat.config.registry import Registry
from fairat.data.containers import DatasetSpec

DATASETS: Registry[DatasetSpec] = Registry("dataset")


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


def require(where: str, ok: bool, what: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``where`` (a config key) unless ``ok``."""
    if not ok:
        raise ValueError(f"{where}: must be {what}, got {value!r}")
