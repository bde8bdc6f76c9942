"""Declared hyper-parameters: a frozen dataclass of typed fields with ``RANGES`` beside them.

Methods (``Params``) and models (``Args``) declare what they accept this way, and
:func:`parse_dataclass` turns a config mapping into such a dataclass, naming the field, the bad
value and what is allowed on any error. It depends on nothing but :mod:`fairat.config.eps`, so every
stage of the package may use it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fairat.config.eps import parse_number


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric hyper-parameter: ``low`` <= value (< if ``open_low``)
    and value <= ``high`` (< if ``open_high``); None for no bound. A Params dataclass lists its
    ranges in ``RANGES: ClassVar[dict[str, Range]]`` beside its fields; :func:`parse_dataclass`
    checks them, so every range is written once, next to the defaults it constrains."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def allows(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return "any number"


AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, open_low=True)
FRACTION = Range(0, 1)


def check_ranges(obj: Any, where: str) -> None:
    """Raise for the first field of ``obj`` outside its ``RANGES`` entry (None values pass)."""
    for name, allowed in getattr(type(obj), "RANGES", {}).items():
        value = getattr(obj, name)
        if value is not None and not allowed.allows(value):
            raise ValueError(f"{where}.{name}: {value!r} is not allowed; must be {allowed}")


def parse_dataclass(cls: type, raw: dict[str, Any], *, where: str) -> Any:
    """Instantiate a dataclass from a mapping, rejecting unknown keys and coercing simple types.

    Fields annotated ``float`` accept fraction strings such as ``"2/255"``; errors name
    ``where.<field>``, the bad value and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping of hyper-parameters, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(fields) or '(none)'}"
        )
    values = {}
    for key, value in raw.items():
        values[key] = _coerce(fields[key].type, value, f"{where}.{key}")
    try:
        obj = cls(**values)
    except ValueError as err:
        message = str(err)
        last = where.rsplit(".", 1)[-1]
        if message.startswith(where):
            pass
        elif message.startswith(f"{last}."):  # TrainConfig names its fields train.<field>
            message = where + message[len(last) :]
        else:
            message = f"{where}.{message}"
        raise ValueError(message) from None
    check_ranges(obj, where)
    return obj


def _coerce(annotation: Any, value: Any, where: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    optional = "None" in str(annotation)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{where}: null is not allowed; expected {kind}")
    base = str(annotation).replace(" | None", "").strip()
    if base == "float":
        return parse_number(value, where)
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: {value!r} is not an integer")
        return value
    if base == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {value!r} is not true or false")
        return value
    if base == "str":
        if not isinstance(value, str):
            raise ValueError(f"{where}: {value!r} is not a string")
        return value
    return value
