"""The ``zoo:`` and ``external:`` entries of a config: models fairat did not train, each one more
row of every table, with the class-wise breakdown of a trained run. Their names, defaults and
check; fetching and loading the weights is :mod:`fairat.evaluation.zoo`'s.

- ``zoo:`` entries name a RobustBench model (``name``, ``dataset``, ``threat_model``). The run
  is named ``zoo/<name>``, its method and model columns say ``zoo``.
- ``external:`` entries name a weights-only state dict of a registered architecture (``name``,
  ``dataset``, ``model``, ``file``). The run is named ``external/<name>``, its method column says
  ``external`` and its model column the architecture, so it sits in the block of the runs
  trained with that architecture.

robustbench 1.1.1 declares the ``pyautoattack`` package as its AutoAttack dependency but imports
it as ``autoattack`` (``robustbench/eval.py``, lines 10-11), the module name of the authors' git
version; :func:`robustbench_utils` registers ``pyautoattack`` under that name before importing
robustbench. It is an optional extra (``pip install -e .[zoo]``; ``make test`` installs it); a
config without zoo entries never imports it.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from fairat.config.eps import eps_tag, format_eps, parse_eps

ZOO_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100"}  # fairat name -> RobustBench's
THREAT_MODELS = ("Linf",)  # the suite's attacks are L-inf
ZOO_METHOD, EXTERNAL_METHOD = "zoo", "external"
INSTALL = "pip install -e '.[zoo]' (make test installs it)"


@dataclass(frozen=True)
class ExternalModel:
    """One zoo or external entry at one eps."""

    kind: str  # "zoo" or "external"
    name: str
    dataset: str
    model: str  # the model column: "zoo", or the external entry's registered architecture
    eps: str  # label, e.g. 8/255
    threat_model: str = "Linf"
    file: str | None = None  # external entries only

    @property
    def run(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def path(self) -> str:
        """Where its evaluation lies under results/: ``<kind>/<dataset>/<model>/<name>/eps<tag>``."""
        return f"{self.kind}/{self.dataset}/{self.model}/{self.name}/eps{eps_tag(self.eps)}"

    def ident(self, checkpoint_epoch: int = 0) -> dict:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "run": self.run,
            "method": ZOO_METHOD if self.kind == "zoo" else EXTERNAL_METHOD,
            "eps": self.eps,
            "seed": 0,
            "checkpoint_epoch": checkpoint_epoch,
        }


def robustbench_utils():
    """``robustbench.utils``, with ``pyautoattack`` registered as ``autoattack`` first (see the
    module docstring); a clear error when robustbench is not installed."""
    try:
        aa = importlib.import_module("pyautoattack")
        sys.modules.setdefault("autoattack", aa)
        sys.modules.setdefault("autoattack.state", importlib.import_module("pyautoattack.state"))
        return importlib.import_module("robustbench.utils")
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"zoo: evaluating RobustBench models needs the robustbench package ({err.name} is "
            f"missing); install it with {INSTALL}"
        ) from err


def zoo_names(dataset: str, threat_model: str) -> list[str]:
    """The model names RobustBench's zoo lists for a (fairat) dataset and threat model."""
    robustbench_utils()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    return list(model_dicts[BenchmarkDataset(ZOO_DATASETS[dataset])][ThreatModel(threat_model)])


def entries(config: dict) -> list[ExternalModel]:
    """Every zoo and external entry of a (schema-validated) config at each of its eps."""
    out = []
    for e in config.get("zoo") or []:
        for eps in e.get("eps") or ["8/255"]:
            out.append(
                ExternalModel(
                    "zoo",
                    e["name"],
                    e["dataset"],
                    ZOO_METHOD,
                    format_eps(parse_eps(eps)),
                    threat_model=e.get("threat_model", "Linf"),
                )
            )
    for e in config.get("external") or []:
        for eps in e.get("eps") or config["eps"]:
            out.append(
                ExternalModel(
                    "external",
                    e["name"],
                    e["dataset"],
                    e["model"],
                    format_eps(parse_eps(eps)),
                    file=e["file"],
                )
            )
    return out


def check_entries(config: dict) -> list[ExternalModel]:
    """Fail before any job on a bad zoo or external entry, naming the field and what is
    allowed; return the entries."""
    from fairat.data import DATASETS
    from fairat.models import MODELS

    seen = set()
    for kind in ("zoo", "external"):
        for i, e in enumerate(config.get(kind) or []):
            where = f"{kind}[{i}]"
            if (kind, e["name"]) in seen:
                raise ValueError(f"{where}.name: {e['name']!r} is listed twice; list each once")
            seen.add((kind, e["name"]))
            if kind == "zoo":
                if e["dataset"] not in ZOO_DATASETS:
                    raise ValueError(
                        f"{where}.dataset: {e['dataset']!r} is not allowed; RobustBench models "
                        f"of: {', '.join(ZOO_DATASETS)}"
                    )
                tm = e.get("threat_model", "Linf")
                if tm not in THREAT_MODELS:
                    raise ValueError(
                        f"{where}.threat_model: {tm!r} is not allowed; allowed: "
                        f"{', '.join(THREAT_MODELS)} (the suite's attacks are L-inf)"
                    )
                names = zoo_names(e["dataset"], tm)
                if e["name"] not in names:
                    close = [n for n in names if n.lower().startswith(e["name"][:4].lower())]
                    raise ValueError(
                        f"{where}.name: {e['name']!r} is not in RobustBench's {e['dataset']} "
                        f"{tm} zoo ({len(names)} models"
                        + (f"; similar: {', '.join(close[:5])}" if close else "")
                        + ")"
                    )
            else:
                DATASETS.get(e["dataset"])
                MODELS.get(e["model"])
    return entries(config)
