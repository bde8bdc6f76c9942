"""Everything about a workflow config that can be checked before any job starts, in one place.

``workflow/rules/common.smk`` calls :func:`load_workflow_config`: the JSON-schema validation
(which also fills in defaults), then :func:`check_workflow_config`; every check raises
``ValueError`` with one message naming the field, the bad value and what is allowed. Beyond the schema (types, enums, simple bounds) and the run expansion of
:mod:`fairat.config.variants` (names, sweeps, baselines, parents), it checks:

- the ranges of every method hyper-parameter (``RANGES`` beside each ``Params``) and training
  setting, and the names of choices such as ``train.precision``, for every run (the schema sees
  only the top-level ``train`` block, not a method's ``train:`` override);
- epoch-indexed hyper-parameters against the run's epochs (``Method.check_epochs``: a warm-up
  that never ends turns DAFA, TRIX and CFA into TRADES) and milestones (``TrainConfig``);
- ``data:``: only ``val_fraction``, ``split_seed`` and dataset names as keys, each dataset's
  options against that dataset's loader (``fairat.data.resolve_options``);
- ``model_args``: each model's arguments against its ``Args`` (names, types, ranges and
  choices, declared beside the model in ``fairat.models``);
- evaluation selections that select nothing (``autoattack_runs`` naming seeds, eps or
  checkpoints the config does not have; AutoAttack settings without AutoAttack in the suite);
- names that collide (the same dataset, model, seed or eps twice);
- an eps that is legal but almost certainly a mistake (0.5 or more: ``eps: [1]`` reads 255/255,
  while ``8/255`` was meant), unless ``allow_large_eps: true``;
- that ``data_dir``, ``results_dir`` and ``resume_dir`` can be written.
"""

from __future__ import annotations

import os
from pathlib import Path

from fairat.config.attack_names import SUITES
from fairat.config.corruptions import check_settings
from fairat.config.eps import format_eps, parse_eps
from fairat.config.external import check_entries
from fairat.config.runs import RunConfig, TrainConfig, all_runs, variants
from fairat.config.variants import Variant
from fairat.data import DATASETS, resolve_options
from fairat.methods import METHODS
from fairat.methods.base import parse_dataclass
from fairat.models import MODELS, parse_model_args

LARGE_EPS = 0.5
DATA_KEYS = ("val_fraction", "split_seed")


def load_workflow_config(
    config: dict, schema: str | Path
) -> tuple[dict[str, Variant], list[RunConfig]]:
    """Validate ``config`` against the JSON schema (filling in its defaults) and run every check
    below; return the runs by name (:func:`fairat.config.variants`) and every run to train.
    The workflow's entry point, and the one the tests of bad configs use."""
    from snakemake.utils import validate  # the workflow's own validator, defaults included

    validate(config, str(schema))
    by_name = variants(config)
    return by_name, check_workflow_config(config, by_name)


def check_workflow_config(
    config: dict, by_name: dict[str, Variant] | None = None
) -> list[RunConfig]:
    """Check the (schema-validated) config; return every run it asks for. ``by_name`` holds
    the config's expanded variants when the caller has them."""
    if not config["methods"] and not (config.get("zoo") or config.get("external")):
        raise ValueError(
            "methods: {} names no run; list at least one (e.g. trades: {}), or evaluate zoo: or "
            "external: models only"
        )
    _check_unique(config)
    _check_eps(config)
    _check_data(config)
    _check_model_args(config)
    # the top-level train block alone first, so that its errors name train.<field> rather than
    # the first run that inherits it
    parse_dataclass(TrainConfig, config.get("train", {}), where="train")
    runs = all_runs(config, by_name)  # variants, hyper-parameter types and ranges, train settings
    for run in runs:
        METHODS.get(run.method).check_epochs(
            run.params(), run.train.epochs, where=f"methods.{run.name}"
        )
    _check_evaluation(config)
    _check_writable(config)
    if config.get("corruptions"):
        _check_corruptions(config, runs)
    if config.get("zoo") or config.get("external"):
        check_entries(config)  # imports robustbench only when there are zoo entries
    return runs


def _check_corruptions(config: dict, runs: list[RunConfig]) -> None:
    raw = config["corruptions"]
    check_settings(raw, list(config["datasets"]))
    names = {r.name for r in runs}
    if raw.get("baseline") is not None and raw["baseline"] not in names:
        raise ValueError(
            f"corruptions.baseline: {raw['baseline']!r} is not a run of this config; runs: "
            f"{', '.join(sorted(names))}"
        )
    evaluated = set(config["evaluation"].get("checkpoints", ["last", "best"]))
    for checkpoint in raw.get("checkpoints") or ["last"]:
        if checkpoint not in evaluated:
            raise ValueError(
                f"corruptions.checkpoints: {checkpoint!r} is not in evaluation.checkpoints "
                f"({', '.join(sorted(evaluated))})"
            )


def _check_unique(config: dict) -> None:
    for key in ("datasets", "models", "seeds"):
        values = list(config[key])
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"{key}: {', '.join(repeated)} listed twice; list each once")
    tags: dict[str, object] = {}
    for value in config["eps"]:
        label = format_eps(parse_eps(value))
        if label in tags:
            raise ValueError(
                f"eps: {tags[label]!r} and {value!r} are the same radius ({label}); list it once"
            )
        tags[label] = value


def _check_eps(config: dict) -> None:
    if config.get("allow_large_eps", False):
        return
    for value in config["eps"]:
        eps = parse_eps(value)
        if eps >= LARGE_EPS:
            k = round(eps) if eps == round(eps) else eps
            raise ValueError(
                f"eps: {value!r} is {eps:g} of the whole [0, 1] pixel range ({format_eps(eps)}), "
                f"almost certainly not what was meant: write eps as a fraction of 1, e.g. "
                f"'{k}/255' for {k} levels of 255; set allow_large_eps: true if {eps:g} is meant"
            )


def _check_data(config: dict) -> None:
    data = config.get("data") or {}
    names = DATASETS.names()
    for key in data:
        if key not in DATA_KEYS and key not in names:
            raise ValueError(
                f"data: unknown key {key!r}; valid keys: {', '.join(DATA_KEYS)} or a dataset "
                f"name with its options ({', '.join(names)})"
            )
    for name in dict.fromkeys([*config["datasets"], *(k for k in data if k in names)]):
        resolve_options(name, data.get(name))  # options of a listed or configured dataset


def _check_model_args(config: dict) -> None:
    for model, args in (config.get("model_args") or {}).items():
        parse_model_args(model, args)  # errors name model_args.<model>.<argument>
    for model in config["models"]:
        MODELS.get(model)


def _check_evaluation(config: dict) -> None:
    evaluation = config.get("evaluation") or {}
    suite = evaluation.get("suite")
    attacks = SUITES[suite] if suite else evaluation.get("attacks", ["clean", "fgsm", "pgd20"])
    where = evaluation.get("autoattack_runs")
    for key in ("autoattack_per_class", "autoattack_runs"):
        if evaluation.get(key) is not None and "autoattack" not in attacks:
            raise ValueError(
                f"evaluation.{key}: {evaluation[key]!r} is set but the suite "
                f"({', '.join(attacks)}) has no autoattack; add it or remove {key}"
            )
    if not where:
        return
    checkpoints = evaluation.get("checkpoints", ["last", "best"])
    seeds = [s for s in where.get("seeds", []) if s not in config["seeds"]]
    if seeds:
        raise ValueError(
            f"evaluation.autoattack_runs.seeds: {seeds} are not seeds of this config "
            f"({config['seeds']}); AutoAttack would run nowhere for them"
        )
    eps = {format_eps(parse_eps(e)) for e in config["eps"]}
    missing = [e for e in where.get("eps", []) if format_eps(parse_eps(e)) not in eps]
    if missing:
        raise ValueError(
            f"evaluation.autoattack_runs.eps: {missing} are not eps of this config "
            f"({', '.join(sorted(eps))}); AutoAttack would run nowhere for them"
        )
    unused = [c for c in where.get("checkpoints", []) if c not in checkpoints]
    if unused:
        raise ValueError(
            f"evaluation.autoattack_runs.checkpoints: {unused} are not evaluated "
            f"(evaluation.checkpoints: {checkpoints})"
        )


def _check_writable(config: dict) -> None:
    for key in ("data_dir", "results_dir", "resume_dir"):
        path = Path(config[key])
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(
                f"{key}: {str(path)!r} cannot be written ({str(existing)!r} is not a writable "
                "directory); choose a directory you can write to"
            )
