"""The tidy class-wise table: ``classwise.csv`` and ``sanity.csv`` from the evaluation JSONs.

``classwise.csv`` has one row per dataset, model, run, eps, seed, checkpoint, attack and class;
``run`` is the run name of the config (a variant, :mod:`fairat.config.variants`) and ``method`` the
registered method it runs. Each row carries the ``precision`` that produced it
(:func:`precision_label` of the evaluation JSON's record, docs/gpu.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

CLASSWISE_COLUMNS = [
    "dataset",
    "model",
    "run",
    "method",
    "eps",
    "seed",
    "checkpoint",
    "attack",
    "class",
    "accuracy",
    "n",
    "precision",
]
IDENTITY = ["dataset", "model", "run", "method", "eps", "seed", "checkpoint"]
SANITY_COLUMNS = [*IDENTITY, "check", "detail"]


UNRECORDED = "unrecorded"
_DTYPES = (("train", "train"), ("train_attacks", "train-attacks"), ("evaluation", "eval"))


def precision_label(record: dict | None) -> str:
    """The ``precision`` column of an evaluation's precision record
    (:func:`fairat.training.device.precision_record`): ``fp32`` when training, its attacks and the
    evaluation ran in IEEE fp32, else what did not (``bf16-train``), with ``+tf32`` when TF32
    was allowed; ``unrecorded`` for a JSON written before precision was recorded."""
    if not record:
        return UNRECORDED
    parts = [f"{record[k]}-{name}" for k, name in _DTYPES if record[k] != "fp32"]
    if record["tf32_matmul"] or record["tf32_cudnn"]:
        parts.append("tf32")
    return "+".join(parts) or "fp32"


def _precisions(labels: pd.Series) -> str:
    """The precision of a group of rows: their one label, or each of them (``a; b``)."""
    values = sorted({v for label in labels.dropna() for v in label.split("; ")})
    return "; ".join(values or [UNRECORDED])


def classwise_rows(result: dict) -> list[dict]:
    """Rows of classwise.csv from one evaluation JSON."""
    ident = {k: result[k] for k in IDENTITY}
    ident["precision"] = precision_label(result.get("precision"))
    rows = []
    for attack, report in result["attacks"].items():
        for name in result["class_names"]:
            cell = report["per_class"][name]
            accuracy = np.nan if cell["accuracy"] is None else cell["accuracy"]
            rows.append(
                {**ident, "attack": attack, "class": name, "accuracy": accuracy, "n": cell["n"]}
            )
    return rows


def _results(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]


def classwise_table(paths: list[str | Path]) -> pd.DataFrame:
    rows = [row for result in _results(paths) for row in classwise_rows(result)]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def sanity_table(paths: list[str | Path]) -> pd.DataFrame:
    """Every sanity warning of every evaluation JSON, one row each."""
    rows = []
    for result in _results(paths):
        ident = {k: result[k] for k in IDENTITY}
        rows += [{**ident, **warning} for warning in result.get("sanity", [])]
    return pd.DataFrame(rows, columns=SANITY_COLUMNS)


def read_classwise(path: str | Path) -> pd.DataFrame:
    """Read classwise.csv keeping eps labels (``8/255``) and class names as strings."""
    return pd.read_csv(path, dtype={"eps": str, "class": str})


def read_sanity(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"eps": str})
