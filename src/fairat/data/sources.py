"""The registry of data sources and the checking of their ``data.<name>`` options.

Every dataset is a :class:`~fairat.data.containers.DatasetSpec` in :data:`DATASETS`; each source
module (digits, synthetic, torchvision, folders) registers its own loaders with
:func:`register_dataset` when ``fairat.data`` imports it. :func:`resolve_options` validates a
dataset's options against its spec's defaults. The package imports every module whose name does
not start with ``_`` (:func:`fairat.config.registry.import_modules`), so a new source is only a new
module in this package with a ``@register_dataset(name, ...)`` loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fairat.config.registry import Registry
from fairat.data.containers import DatasetSpec, RawDataset

DATASETS: Registry[DatasetSpec] = Registry("dataset")

Loader = Callable[[Path, dict], RawDataset]


def register_dataset(
    name: str,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    augment: bool,
    clamp: bool,
    num_classes: int | None,
    how_to_get: str,
    defaults: Mapping[str, Any] | None = None,
    required: tuple[str, ...] = (),
) -> Callable[[Loader], Loader]:
    """Register the decorated ``load(root, options)`` as dataset ``name``: the
    :class:`~fairat.data.containers.DatasetSpec` with these fields around it goes into
    :data:`DATASETS`; the loader is returned unchanged."""

    def decorator(load: Loader) -> Loader:
        spec = DatasetSpec(
            name=name,
            load=load,
            mean=mean,
            std=std,
            augment=augment,
            clamp=clamp,
            num_classes=num_classes,
            how_to_get=how_to_get,
            defaults=dict(defaults or {}),
            required=required,
        )
        DATASETS.register(name)(spec)
        return load

    return decorator


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
