"""From the workflow config (validated by the JSON schema) to frozen per-run configs.

The workflow resolves one :class:`RunConfig` per (dataset, model, run, eps, seed), where a run is a
named variant of a registered method (:mod:`fairat.config.variants`), passes it to the scripts as JSON,
and the package never reads the global config. ``RunConfig.key()`` is a
hash of everything that changes what training computes; the trainer keys its resume state by it,
so a changed config never resumes an old run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fairat.config.attack_names import SUITES, check_attack_name
from fairat.config.eps import eps_tag, format_eps, own_radius, parse_eps
from fairat.config.params import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    Range,
    check_ranges,
    parse_dataclass,
)
from fairat.config.variants import Variant, expand_variants
from fairat.methods import METHODS

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("piecewise", "cosine", "constant")
CHECKPOINTS = ("last", "best")
PRECISIONS = ("fp32", "bf16", "tf32")  # train.precision (fairat.training.device applies it)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; a method may override any of them under ``methods.<name>.train``."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "piecewise"
    milestones: tuple = ()
    gamma: float = 0.1
    select_steps: int = 10
    augment: bool | None = None
    # fp32; bf16 (the training loss forward); tf32 (the training step, its attack included, as
    # PyTorch's defaults run it); validation, selection and evaluation stay fp32 (fairat.training.device)
    precision: str = "fp32"

    RANGES: ClassVar[dict[str, Range]] = {
        "lr": POSITIVE,
        "momentum": Range(0, 1, open_high=True),
        "weight_decay": NON_NEGATIVE,
        "gamma": POSITIVE,
        "select_steps": AT_LEAST_ONE,
    }

    def __post_init__(self) -> None:
        _one_of("train.optimizer", self.optimizer, OPTIMIZERS)
        _one_of("train.schedule", self.schedule, SCHEDULES)
        _one_of("train.precision", self.precision, PRECISIONS)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"train.{name}: {getattr(self, name)} is not allowed; must be >= 1"
                )
        check_ranges(self, "train")
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if any(not 0 < m <= self.epochs for m in self.milestones):
            raise ValueError(
                f"train.milestones: {list(self.milestones)} must lie in 1..epochs ({self.epochs})"
            )


@dataclass(frozen=True)
class EvalConfig:
    """The attack suite run on the test split for each checkpoint (docs/specification.md#attacks).

    ``suite`` names a preset (``quick``, ``paper``) that replaces ``attacks``.
    """

    attacks: tuple = ("clean", "fgsm", "pgd20")
    suite: str | None = None
    batch_size: int = 256
    seed: int = 0
    checkpoints: tuple = CHECKPOINTS
    restarts: int = 1
    autoattack_per_class: int | None = None
    autoattack_runs: dict | None = None
    sanity_tolerance: float = 0.01
    masking_gap: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", tuple(self.attacks))
        object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
        if self.suite is not None:
            _one_of("evaluation.suite", self.suite, tuple(SUITES))
        for name in self.attacks:
            check_attack_name(name)
        for name in self.checkpoints:
            _one_of("evaluation.checkpoints", name, CHECKPOINTS)
        if self.restarts < 1:
            raise ValueError(f"evaluation.restarts: {self.restarts} is not allowed; must be >= 1")
        if self.autoattack_per_class is not None and self.autoattack_per_class < 1:
            raise ValueError(
                f"evaluation.autoattack_per_class: {self.autoattack_per_class} is not allowed; "
                "must be >= 1 or null (the whole test split)"
            )
        if self.autoattack_runs is not None:
            _check_autoattack_runs(self.autoattack_runs)

    @property
    def suite_attacks(self) -> tuple[str, ...]:
        """The attacks to run: the named suite's, else ``attacks``."""
        return SUITES[self.suite] if self.suite is not None else self.attacks

    @property
    def worst_case_attacks(self) -> tuple[str, ...]:
        """The attacks ``worst_case`` combines: those run on every sample of every checkpoint,
        at the run's eps. AutoAttack on a subset (``autoattack_per_class``) or on selected
        checkpoints only (``autoattack_runs``) is left out, so that a worst-case row always
        means one suite on one set of samples; it is reported as its own row. So is an attack
        at its own radius (``pgd40@2/255``): the worst case is taken at one radius."""
        partial = self.autoattack_per_class is not None or self.autoattack_runs is not None
        return tuple(
            a
            for a in self.suite_attacks
            if not (partial and a == "autoattack") and own_radius(a) is None
        )

    def runs_autoattack(self, *, seed: int, eps: float, checkpoint: str) -> bool:
        """Whether ``autoattack_runs`` selects this checkpoint (null selects every one)."""
        where = self.autoattack_runs or {}
        return (
            seed in where.get("seeds", [seed])
            and checkpoint in where.get("checkpoints", [checkpoint])
            and any(abs(parse_eps(e) - eps) < 1e-9 for e in where.get("eps", [eps]))
        )

    def attacks_for(self, *, seed: int, eps: float, checkpoint: str) -> tuple[str, ...]:
        """The suite of one checkpoint: ``suite_attacks`` without AutoAttack where
        ``autoattack_runs`` does not select it."""
        if self.runs_autoattack(seed=seed, eps=eps, checkpoint=checkpoint):
            return self.suite_attacks
        return tuple(a for a in self.suite_attacks if a != "autoattack")


_AUTOATTACK_RUNS_KEYS = ("seeds", "eps", "checkpoints")


def _check_autoattack_runs(where: dict) -> None:
    """``evaluation.autoattack_runs``: a mapping of lists under seeds, eps and checkpoints."""
    name = "evaluation.autoattack_runs"
    if not isinstance(where, dict):
        raise ValueError(
            f"{name}: {where!r} is not allowed; give a mapping with any of "
            f"{', '.join(_AUTOATTACK_RUNS_KEYS)} (each a list), or null for every checkpoint"
        )
    for key, values in where.items():
        if key not in _AUTOATTACK_RUNS_KEYS:
            raise ValueError(
                f"{name}: unknown key {key!r}; valid keys: {', '.join(_AUTOATTACK_RUNS_KEYS)}"
            )
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(f"{name}.{key}: {values!r} is not allowed; give a non-empty list")
        for value in values:
            if key == "checkpoints":
                _one_of(f"{name}.checkpoints", value, CHECKPOINTS)
            elif key == "seeds" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name}.seeds: {value!r} is not allowed; seeds are integers >= 0")
            elif key == "eps":
                try:
                    parse_eps(value)
                except ValueError as err:
                    raise ValueError(f"{name}.eps: {err}") from None


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run and its evaluation need, resolved from the workflow config."""

    dataset: str
    model: str
    method: str  # the registered method it runs
    eps: float
    seed: int
    name: str = ""  # the run name (a key under methods:, or a sweep point); default: method
    init_from: str | None = None  # the run whose last.pt a fine-tuning method starts from
    dataset_options: dict = field(default_factory=dict)
    model_args: dict = field(default_factory=dict)
    method_params: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    val_fraction: float = 0.02
    split_seed: int = 0
    device: str = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.method)
        if self.init_from is None:  # a fine-tuning method always has a parent run
            object.__setattr__(self, "init_from", METHODS.get(self.method).init_from)

    @property
    def eps_label(self) -> str:
        return format_eps(self.eps)

    def params(self) -> Any:
        """The method's typed hyper-parameters (errors name ``methods.<run>.<key>``)."""
        cls = METHODS.get(self.method)
        return parse_dataclass(cls.Params, self.method_params, where=f"methods.{self.name}")

    def to_json(self, *, without: tuple[str, ...] = ()) -> str:
        """The run as sorted JSON, leaving out the top-level fields named in ``without``."""
        raw = dataclasses.asdict(self)
        for name in without:
            raw.pop(name)
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """The run of ``to_json`` or of a run's config.json (whose ``precision`` record,
        :func:`fairat.training.device.precision_record`, describes the process, not the run)."""
        raw = json.loads(text)
        raw.pop("precision", None)
        raw["train"] = TrainConfig(**raw["train"])
        raw["evaluation"] = EvalConfig(**raw.get("evaluation", {}))
        return cls(**raw)

    def training_json(self) -> str:
        """What a training job computes from, and the record its outputs carry (config.json,
        ``config`` in last.pt and best.pt): ``to_json`` without the evaluation settings (changing
        the attack suite re-evaluates checkpoints without retraining them) and without the run's
        name, with the method's parameters resolved (:meth:`resolved_params`). Two configs that
        train the same run under two names (a sweep point ``codat-eta0.3`` and the headline's
        ``codat``), or one writing a default out and one not, give the same text: the output
        cache (workflow/rules/cache.smk) trains it once. The name comes from the run's
        directory (the workflow's ``run`` wildcard)."""
        resolved = dataclasses.replace(self, method_params=self.resolved_params())
        return resolved.to_json(without=("evaluation", "name"))

    def resolved_params(self) -> dict:
        """The method's hyper-parameters with every default filled in, as plain values; parsing
        them again gives :meth:`params` (tests/test_output_cache.py checks every shipped
        config)."""
        return dataclasses.asdict(self.params())

    def key(self) -> str:
        """Hash of what determines training (not the device, the evaluation or compile), name
        included: the run's resume state (two names never share one). Parameters count
        resolved, so the run as the config gives it and as the train job rebuilds it from
        :meth:`training_json` have one key."""
        resolved = dataclasses.replace(self, method_params=self.resolved_params())
        text = resolved.to_json(without=("evaluation", "device", "compile"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _one_of(where: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{where}: {value!r} is not allowed; valid values: {', '.join(allowed)}")


def variants(config: dict) -> dict[str, Variant]:
    """The runs of ``methods:`` (sweeps expanded, baselines and parents checked), by name."""
    return expand_variants(config["methods"])


def data_settings(config: dict, dataset: str) -> tuple[dict, float, int]:
    """(options of ``data.<dataset>``, validation fraction, split seed) for preparing a dataset."""
    data = config.get("data") or {}
    return (
        dict(data.get(dataset) or {}),
        float(data.get("val_fraction", 0.02)),
        int(data.get("split_seed", 0)),
    )


def resolve_run(
    config: dict,
    *,
    dataset: str,
    model: str,
    run: str,
    eps: str | float,
    seed: int | str,
    runs: dict[str, Variant] | None = None,
) -> RunConfig:
    """The RunConfig of run ``run`` (a name under ``methods:``, or a sweep point of one);
    ``eps`` may be a config value (``8/255``) or its tag (``8_255``); ``runs`` saves expanding
    the config's variants again."""
    runs = variants(config) if runs is None else runs
    if run not in runs:
        raise ValueError(f"methods: no run named {run!r}; runs: {', '.join(runs)}")
    variant = runs[run]
    train = parse_dataclass(
        TrainConfig,
        {**config.get("train", {}), **variant.train},
        where=f"methods.{variant.family}.train",
    )
    options, val_fraction, split_seed = data_settings(config, dataset)
    run = RunConfig(
        dataset=dataset,
        model=model,
        name=variant.name,
        method=variant.method,
        eps=parse_eps(eps),
        seed=int(seed),
        init_from=variant.init_from,
        dataset_options=options,
        model_args=dict((config.get("model_args") or {}).get(model) or {}),
        method_params=variant.params,
        train=train,
        evaluation=parse_dataclass(EvalConfig, config.get("evaluation", {}), where="evaluation"),
        val_fraction=val_fraction,
        split_seed=split_seed,
        device=config.get("device", "auto"),
        compile=bool(config.get("compile", False)),
    )
    run.params()  # fail now, not inside a job, on a bad hyper-parameter
    return run


def all_runs(config: dict, runs: dict[str, Variant] | None = None) -> list[RunConfig]:
    """Every run the config asks for; resolving them checks every method's hyper-parameters.
    ``runs`` saves expanding the config's variants again."""
    runs = variants(config) if runs is None else runs
    return [
        resolve_run(config, dataset=d, model=m, run=k, eps=e, seed=s, runs=runs)
        for d in config["datasets"]
        for m in config["models"]
        for k in runs
        for e in config["eps"]
        for s in config["seeds"]
    ]


def run_dir(run: RunConfig) -> str:
    """Relative directory of a run: ``{dataset}/{model}/{run name}/eps{tag}/seed{seed}``."""
    return f"{run.dataset}/{run.model}/{run.name}/eps{eps_tag(run.eps)}/seed{run.seed}"
