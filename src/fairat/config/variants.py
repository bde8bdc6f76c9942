"""Runs of the config: named variants of the registered methods, sweeps, baselines and parents.

A key under ``methods:`` is a *run name*. Its entry holds the method's hyper-parameters and may
name, besides ``train:`` overrides:

- ``method:`` the registered method it runs (default: the key itself), so that ``trades: {}``
  and ``trades_110ep: {method: trades, train: {epochs: 110}}`` are two runs of TRADES;
- ``sweep:`` a mapping of hyper-parameter (or ``train.<field>``) to a list of values, expanded
  into one run per point of their cross product, named ``<key>-<param><value>...`` in the
  order the keys are written (``trix-lam1.5``; ``/`` in a value becomes ``_``);
- ``baseline:`` the run that rho, the paired tests and the paper tables compare it with, on the
  same dataset, model and eps (default ``trades`` when the config has a run of that name, else
  none; ``null`` for none);
- ``init_from:`` for a method that fine-tunes a checkpoint (FRL), the run whose ``last.pt`` of the
  same dataset, model, eps and seed it starts from (default: the run named by the method's
  ``init_from``, ``trades``).

Everything is checked here, before any job: names are path-safe and unique after expansion,
methods are registered, sweep keys are hyper-parameters of the method and every swept value
parses, and baselines and parents name runs of the config.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from fairat.config.params import parse_dataclass
from fairat.methods import METHODS

RUN_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}\Z")
RUN_NAME_RULE = (
    "lower-case letters, digits, '_', '-' and '.', starting with a letter or digit, "
    "at most 100 characters"
)
DEFAULT_BASELINE = "trades"
_UNSET = object()


@dataclass(frozen=True)
class Variant:
    """One run of the config (after sweep expansion)."""

    name: str
    method: str
    params: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    baseline: str | None = None
    init_from: str | None = None
    family: str = ""  # the methods: key it came from (itself unless swept)
    sweep: dict = field(default_factory=dict)  # {key: value} of this run's sweep point


def check_run_name(name: Any, where: str = "methods") -> str:
    if not isinstance(name, str) or not RUN_NAME.match(name):
        raise ValueError(f"{where}: run name {name!r} is not allowed; use {RUN_NAME_RULE}")
    return name


def value_tag(value: Any) -> str:
    """A sweep value as it appears in a run name: ``1.5``, ``10``, ``true``, ``2_255``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    return re.sub(r"[^a-z0-9_.-]", "_", str(value).lower())


def expand_variants(methods: dict[str, Any]) -> dict[str, Variant]:
    """Every run of the ``methods:`` section, in config order, checked (see the module doc)."""
    if not isinstance(methods, dict):
        raise ValueError("methods: give a mapping of run names to settings")
    # an empty mapping is checked by fairat.config.checks: allowed when zoo or external models remain
    pending: list[tuple[Variant, Any, Any]] = []  # (variant, baseline, init_from) as written
    for key, entry in methods.items():
        check_run_name(key)
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise ValueError(f"methods.{key}: {entry!r} is not allowed; give a mapping or {{}}")
        entry = dict(entry)
        method = entry.pop("method", key)
        if method not in METHODS:
            hint = "" if "method" in (methods[key] or {}) else " (name it with `method:`)"
            raise ValueError(
                f"methods.{key}.method: {method!r} is not a registered method{hint}; "
                f"valid methods: {', '.join(METHODS.names())}"
            )
        baseline = entry.pop("baseline", _UNSET)
        init_from = entry.pop("init_from", _UNSET)
        sweep = entry.pop("sweep", None) or {}
        train = entry.pop("train", None) or {}
        if not isinstance(train, dict):
            raise ValueError(f"methods.{key}.train: {train!r} is not allowed; give a mapping")
        for point in _sweep_points(key, method, entry, train, sweep):
            params, overrides, values = point
            name = key + "".join(f"-{k.removeprefix('train.')}{value_tag(v)}" for k, v in values)
            variant = Variant(
                name=name,
                method=method,
                params=params,
                train=overrides,
                family=key,
                sweep=dict(values),
            )
            pending.append((variant, baseline, init_from))
    names = [v.name for v, _, _ in pending]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"methods: run name {name!r} occurs twice (a sweep expands into a name that "
                "another entry already has); rename one of them"
            )
        check_run_name(name, where=f"methods: sweep of {name.split('-')[0]!r}")
        seen.add(name)
    families = {v.family: [] for v, _, _ in pending}
    for v, _, _ in pending:
        families[v.family].append(v.name)
    runs = {}
    for variant, baseline, init_from in pending:
        runs[variant.name] = dataclasses.replace(
            variant,
            baseline=_baseline(variant, baseline, seen, families),
            init_from=_parent(variant, init_from, seen, pending),
        )
    return runs


def _sweep_points(key: str, method: str, entry: dict, train: dict, sweep: Any):
    """(params, train overrides, ((key, value), ...)) of each point of a variant's sweep."""
    params_cls = METHODS.get(method).Params
    param_names = [f.name for f in dataclasses.fields(params_cls)]
    where = f"methods.{key}"
    parse_dataclass(params_cls, entry, where=where)  # fixed values first: name the field
    if not isinstance(sweep, dict):
        raise ValueError(f"{where}.sweep: {sweep!r} is not allowed; give a mapping of lists")
    axes = []
    for name, values in sweep.items():
        field_name = name.removeprefix("train.")
        if name.startswith("train."):
            allowed = ()  # checked when the run resolves (TrainConfig names the field)
        elif name not in param_names:
            raise ValueError(
                f"{where}.sweep: unknown key {name!r}; valid keys: {', '.join(param_names)} "
                "or train.<field>"
            )
        else:
            allowed = param_names
        fixed = train if name.startswith("train.") else entry
        if field_name in fixed:
            raise ValueError(
                f"{where}.sweep.{name}: also given as a fixed value ({fixed[field_name]!r}); "
                "give it in one place"
            )
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.sweep.{name}: {values!r} is not allowed; give a list")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"{where}.sweep.{name}: {values!r} repeats a value")
        if allowed:
            for value in values:
                parse_dataclass(params_cls, {**entry, name: value}, where=f"{where}.sweep")
        axes.append([(name, v) for v in values])
    for values in itertools.product(*axes) if axes else [()]:
        params, overrides = dict(entry), dict(train)
        for name, value in values:
            if name.startswith("train."):
                overrides[name.removeprefix("train.")] = value
            else:
                params[name] = value
        yield params, overrides, tuple(values)


def _baseline(variant: Variant, written: Any, names: set[str], families: dict) -> str | None:
    where = f"methods.{variant.family}.baseline"
    if written is _UNSET:
        return DEFAULT_BASELINE if DEFAULT_BASELINE in names else None
    if written is None:
        return None
    if written not in names:
        if written in families:
            raise ValueError(
                f"{where}: {written!r} is swept into several runs; name one of them: "
                f"{', '.join(families[written])}"
            )
        raise ValueError(
            f"{where}: {written!r} is not a run of this config; runs: {', '.join(sorted(names))}"
        )
    return written


def _parent(variant: Variant, written: Any, names: set[str], pending: list) -> str | None:
    cls = METHODS.get(variant.method)
    where = f"methods.{variant.family}.init_from"
    if cls.init_from is None:
        if written is not _UNSET:
            raise ValueError(
                f"{where}: method {variant.method!r} trains from scratch; only a method that "
                "fine-tunes a checkpoint (frl_rw, frl_rwrm) takes init_from"
            )
        return None
    parent = cls.init_from if written is _UNSET else written
    methods = {v.name: v.method for v, _, _ in pending}
    if parent not in names:
        raise ValueError(
            f"{where}: {parent!r} is not a run of this config; {variant.method} fine-tunes the "
            f"last checkpoint of a run of {', '.join(cls.init_methods)}: add one under methods: "
            "or name it with init_from:"
        )
    if methods[parent] not in cls.init_methods:
        raise ValueError(
            f"{where}: {parent!r} runs {methods[parent]!r}; {variant.method} fine-tunes a run of "
            f"{', '.join(cls.init_methods)}"
        )
    return parent
