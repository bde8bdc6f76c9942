"""Where attacked samples go: tidy confusion and class-similarity tables from evaluation JSONs.

Each evaluation JSON's report of an attack holds ``confusion`` (K x K counts, row = true class,
column = predicted class, over the samples the attack evaluated) and ``similarity`` (DAFA's
P_i(j): the mean softmax on class j of the class-i test samples at the attacked inputs;
:func:`fairat.evaluation.suite.class_similarity`). This module turns them into the long tables
``confusion.csv`` and ``class_similarity.csv`` and derives, per run block, the row-normalised
matrix (its diagonal is class-wise accuracy) and, for each class, the class its lost samples
go to most. It reads JSON and CSV only (no torch).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

IDENTITY = ["dataset", "model", "run", "method", "eps", "seed", "checkpoint"]
CONFUSION_COLUMNS = [*IDENTITY, "attack", "true_class", "predicted_class", "count"]
SIMILARITY_COLUMNS = [*IDENTITY, "attack", "true_class", "predicted_class", "probability"]


def _rows(result: dict, key: str, value: str) -> list[dict]:
    ident = {k: result[k] for k in IDENTITY}
    names = result["class_names"]
    rows = []
    for attack, report in result["attacks"].items():
        matrix = report.get(key)
        if matrix is None:  # worst_case has no similarity; a JSON from before labels were kept
            continue
        for i, true in enumerate(names):
            for j, pred in enumerate(names):
                cell = matrix[i][j]
                rows.append(
                    {
                        **ident,
                        "attack": attack,
                        "true_class": true,
                        "predicted_class": pred,
                        value: np.nan if cell is None else cell,
                    }
                )
    return rows


def confusion_tables(paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(confusion.csv, class_similarity.csv) from evaluation JSONs: one row per run, seed,
    checkpoint, attack, true class and predicted class, every cell of the K x K matrices."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    confusion = pd.DataFrame(
        [r for res in results for r in _rows(res, "confusion", "count")],
        columns=CONFUSION_COLUMNS,
    )
    similarity = pd.DataFrame(
        [r for res in results for r in _rows(res, "similarity", "probability")],
        columns=SIMILARITY_COLUMNS,
    )
    return confusion.astype({"count": "int64"}), similarity


def read_confusion(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"eps": str, "true_class": str, "predicted_class": str}, keep_default_na=False
    )


def row_normalised(block: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """One run's K x K matrix, counts summed over seeds, each row divided by its total: entry
    (i, j) is the share of class-i samples the attack sent to class j (diagonal: class-wise
    accuracy). A row with no evaluated sample is NaN."""
    counts = block.pivot_table(
        index="true_class", columns="predicted_class", values="count", aggfunc="sum"
    ).reindex(index=classes, columns=classes, fill_value=0)
    totals = counts.sum(axis=1)
    return counts.div(totals.where(totals > 0), axis=0)


def lost_to(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per true class of a row-normalised matrix: the share lost (1 - diagonal), the class that
    took most of it and that class's share of all the class's samples."""
    off = matrix.to_numpy(dtype=float, copy=True)
    np.fill_diagonal(off, -np.inf)
    top = off.argmax(axis=1)
    rows = []
    for i, name in enumerate(matrix.index):
        lost = 1.0 - matrix.iloc[i, i]
        rows.append(
            {
                "true_class": name,
                "lost": lost,
                "to_class": matrix.columns[top[i]] if lost > 0 else "",
                "to_share": off[i, top[i]] if lost > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def class_order(confusion: pd.DataFrame) -> list[str]:
    """The classes in the order the evaluations listed them."""
    return list(dict.fromkeys(confusion["true_class"]))
