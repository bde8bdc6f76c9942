"""Paper-style figures from classwise.csv and the runs' history.csv, each as PNG and PDF.

One module per kind of figure, all in one style (:mod:`fairat.reporting.paper_style`):

- ``heatmap`` (:mod:`fairat.reporting.paper_heatmap`): per-class robust accuracy, methods x
  classes, mean over seeds;
- ``eps`` (:mod:`fairat.reporting.paper_eps`): average and worst-class robust accuracy against
  eps, a line per method, std bars;
- ``tradeoff`` (:mod:`fairat.reporting.paper_tradeoff`): average (x) against worst-class (y)
  robust accuracy, a labelled point per method, std bars over seeds in both directions;
- ``epochs`` (:mod:`fairat.reporting.paper_epochs`): per-class validation robust accuracy over
  the training epochs, a panel per method, a line per class (mean over seeds) and the class
  average in black.

Robust accuracy is under ``fairat.reporting.summary.robust_attack`` (``worst_case`` when evaluated).
``figure_stem`` names the files; ``write_figures`` draws every requested output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairat.config.eps import eps_tag
from fairat.reporting.paper_epochs import plot_epochs
from fairat.reporting.paper_eps import plot_eps
from fairat.reporting.paper_heatmap import plot_heatmap
from fairat.reporting.paper_tradeoff import plot_tradeoff

KINDS = ("heatmap", "eps", "tradeoff", "epochs")
FORMATS = ("png", "pdf")


def figure_stem(
    kind: str, dataset: str, model: str, eps: str | float | None = None, checkpoint=None
) -> str:
    """File name without extension: ``{kind}_{dataset}_{model}[_eps{tag}][_{checkpoint}]``."""
    parts = [kind, dataset, model]
    if eps is not None:
        parts.append(f"eps{eps_tag(eps)}")
    if checkpoint is not None:
        parts.append(str(checkpoint))
    return "_".join(parts)


def figure_paths(
    kind: str, directory: str, runs: Sequence[tuple], checkpoints: Sequence[str]
) -> list[str]:
    """The PNG and PDF of every figure of one kind, for the workflow's outputs.

    ``runs`` holds the (dataset, model, eps) of the runs (repeats allowed); heatmap and tradeoff
    figures are per (dataset, model, eps, checkpoint), eps figures per (dataset, model,
    checkpoint) and epochs figures per (dataset, model, eps).
    """
    dme = list(dict.fromkeys(tuple(r) for r in runs))
    dm = list(dict.fromkeys((d, m) for d, m, _ in dme))
    if kind == "epochs":
        keys = [(d, m, e, None) for d, m, e in dme]
    elif kind == "eps":
        keys = [(d, m, None, c) for d, m in dm for c in checkpoints]
    elif kind in KINDS:
        keys = [(d, m, e, c) for d, m, e in dme for c in checkpoints]
    else:
        raise ValueError(f"unknown figure kind {kind!r}; the kinds are {KINDS}")
    return [f"{directory}/{figure_stem(kind, *key)}.{fmt}" for key in keys for fmt in FORMATS]


def _keys(df: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return list(df[columns].drop_duplicates().itertuples(index=False, name=None))


def figure_keys(classwise: pd.DataFrame | None, histories: pd.DataFrame | None = None) -> dict:
    """Every figure the data allow: ``{stem: (kind, key)}``; the epochs figures come from the
    histories, the others from classwise.csv."""
    keys: dict[str, tuple[str, tuple]] = {}
    if classwise is not None and len(classwise):
        for key in _keys(classwise, ["dataset", "model", "eps", "checkpoint"]):
            for kind in ("heatmap", "tradeoff"):
                keys[figure_stem(kind, *key)] = (kind, key)
        for d, m, c in _keys(classwise, ["dataset", "model", "checkpoint"]):
            keys[figure_stem("eps", d, m, None, c)] = ("eps", (d, m, c))
    if histories is not None and len(histories):
        for key in _keys(histories, ["dataset", "model", "eps"]):
            keys[figure_stem("epochs", *key)] = ("epochs", key)
    return keys


def write_figures(
    classwise: pd.DataFrame | None, histories: pd.DataFrame | None, outs: Sequence[str | Path]
) -> list[str]:
    """Draw every output path (``<dir>/<figure_stem>.<png|pdf>``); the formats of one figure are
    drawn together. Returns the stems drawn; an unknown stem is an error."""
    keys = figure_keys(classwise, histories)
    by_stem: dict[str, list[str | Path]] = {}
    for out in outs:
        by_stem.setdefault(Path(out).stem, []).append(out)
    unknown = [s for s in by_stem if s not in keys]
    if unknown:
        raise ValueError(f"no data for figures {unknown}; the data allow {sorted(keys)}")
    for stem, paths in by_stem.items():
        kind, key = keys[stem]
        if kind == "heatmap":
            plot_heatmap(classwise, *key, paths)
        elif kind == "tradeoff":
            plot_tradeoff(classwise, *key, paths)
        elif kind == "eps":
            plot_eps(classwise, *key, paths)
        else:
            plot_epochs(histories, *key, paths)
    return list(by_stem)
