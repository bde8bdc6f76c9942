"""A name -> object registry whose lookup errors list the valid names (timm's ``create_model`` idea).

Methods, models and data sources register the same way: each module of their package registers
its entries at import time with its registry's decorator (``@METHODS.register(name)``,
``@register_model(name, Args)``, ``@register_dataset(name, ...)``), and the package's
``__init__`` imports every module with :func:`import_modules`. Adding an entry is adding a file; no list elsewhere names it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def import_modules(package: str, path: Iterable[str]) -> list[str]:
    """Import every module of ``package`` (its ``__path__``) whose name does not start with
    ``_`` (private helpers, imported by the modules that use them), in name order, so that
    each registers its entries; return their names."""
    names = [m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")]
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names


class UnknownNameError(KeyError):
    """Raised when a registry is asked for a name it does not hold."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to registered objects; ``kind`` names the field in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if isinstance(obj, type) and "name" not in vars(obj):
                obj.name = name  # classes learn the name they are registered under
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
