"""Models fairat did not train: RobustBench's model zoo and external weights-only checkpoints.

Each becomes one more row of every table, with the class-wise breakdown of a trained run:

- ``zoo:`` entries name a RobustBench model (``name``, ``dataset``, ``threat_model``). Its
  weights are fetched once with ``robustbench.utils.load_model`` into
  ``<data_dir>/zoo/<dataset>/<threat_model>/<name>.pt``, the path that function reads (and skips
  the download for when the file exists: robustbench 1.1.1 ``utils.py``, ``load_model``). The run
  is named ``zoo/<name>``, its method and model columns say ``zoo``.
- ``external:`` entries name a weights-only state dict of a registered architecture (``name``,
  ``dataset``, ``model``, ``file``), loaded with ``torch.load(weights_only=True)``. The run is
  named ``external/<name>``, its method column says ``external`` and its model column the
  architecture, so it sits in the block of the runs trained with that architecture.

RobustBench's models take inputs in [0, 1] and normalise inside (its README's convention), as
fairat's networks do, so the model is attacked as it is. Each is evaluated with the config's suite
at each of its eps as seed 0, checkpoint ``last`` (the one checkpoint there is).

robustbench 1.1.1 declares the ``pyautoattack`` package as its AutoAttack dependency but imports
it as ``autoattack`` (``robustbench/eval.py``, lines 10-11), the module name of the authors' git
version; :func:`robustbench_utils` registers ``pyautoattack`` under that name before importing
robustbench. It is an optional extra (``pip install -e .[zoo]``; ``make test`` installs it).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

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


def zoo_weights(model_dir: str | Path, entry: ExternalModel) -> Path:
    """The file ``robustbench.utils.load_model`` reads for a zoo entry under ``model_dir``."""
    return Path(model_dir) / ZOO_DATASETS[entry.dataset] / entry.threat_model / f"{entry.name}.pt"


def fetch_zoo(model_dir: str | Path, entry: ExternalModel) -> Path:
    """Download a zoo entry's weights with robustbench (nothing to do when the file exists);
    offline, one error naming the model, the file and how to get it."""
    path = zoo_weights(model_dir, entry)
    if path.is_file():
        return path
    utils = robustbench_utils()
    try:
        utils.load_model(
            entry.name,
            model_dir=str(model_dir),
            dataset=ZOO_DATASETS[entry.dataset],
            threat_model=entry.threat_model,
        )
    except Exception as err:  # robustbench's download raises whatever requests/gdown raise
        path.unlink(missing_ok=True)  # a partial download is not a checkpoint
        raise FileNotFoundError(
            f"zoo: could not fetch RobustBench model {entry.name!r} ({entry.dataset}, "
            f"{entry.threat_model}): {type(err).__name__}: {err}. It looked for {path}. On a "
            "machine with internet run the workflow's zoo_fetch job (snakemake --until "
            f"zoo_fetch), or call robustbench.utils.load_model('{entry.name}', model_dir=..., "
            f"dataset='{ZOO_DATASETS[entry.dataset]}', threat_model='{entry.threat_model}') and "
            f"copy the file to {path}"
        ) from err
    return path


def load_zoo(model_dir: str | Path, entry: ExternalModel):
    """The zoo model through ``robustbench.utils.load_model`` from its fetched weights (never a
    download: a missing file is an error naming it)."""
    path = zoo_weights(model_dir, entry)
    if not path.is_file():
        raise FileNotFoundError(
            f"zoo: the weights of {entry.name!r} are missing: {path}; fetch them with the "
            "zoo_fetch job on a machine with internet"
        )
    return (
        robustbench_utils()
        .load_model(
            entry.name,
            model_dir=str(model_dir),
            dataset=ZOO_DATASETS[entry.dataset],
            threat_model=entry.threat_model,
        )
        .eval()
    )


def load_external(entry: ExternalModel, data, model_args: dict):
    """A registered architecture with an external weights-only state dict (``weights_only``:
    a file holding pickled code is refused, :func:`fairat.runtime.checkpoint.load_torch`)."""
    from fairat.models import create_model
    from fairat.runtime.checkpoint import load_torch

    state = load_torch(entry.file)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a fairat checkpoint
    model = create_model(
        entry.model,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        mean=data.mean,
        std=data.std,
        **model_args,
    )
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            f"external {entry.name!r}: {entry.file} does not hold weights of {entry.model} for "
            f"{entry.dataset}: {str(err).splitlines()[0]}"
        ) from err
    return model.eval()
