"""The paper's ``heatmap`` figure: per-class robust accuracy, methods x classes, mean over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.reporting.class_labels import fit_class_ticks  # noqa: E402
from fairat.reporting.figures import class_grid  # noqa: E402
from fairat.reporting.paper_style import (  # noqa: E402
    WIDE,
    WIDTH,
    _methods,
    _robust,
    _save,
    _select,
    _title,
    style,
)

HEATMAP_ANNOTATED = 16  # classes: up to this many, each cell shows its number
ROW_CLASSES = 30  # classes: beyond this, the heatmap is cut into rows of at most this many


def heatmap_rows(n_classes: int) -> list[slice]:
    """The classes of each row of the heatmap: one row up to ``ROW_CLASSES`` classes, else
    rows of equal length (CIFAR-100: 4 rows of 25), each name written at 45 degrees in the
    width of both columns."""
    rows = max(1, math.ceil(n_classes / ROW_CLASSES))
    size = math.ceil(n_classes / rows)
    return [slice(i, min(i + size, n_classes)) for i in range(0, n_classes, size)] or [slice(0, 0)]


def plot_heatmap(
    classwise: pd.DataFrame,
    dataset: str,
    model: str,
    eps: str,
    checkpoint: str,
    outs: Sequence[str | Path],
) -> None:
    """Per-class robust accuracy (%), a row per method and a column per class, seed mean; many
    classes are cut into rows of the figure (:func:`heatmap_rows`), so that every class name is
    written and legible (:func:`fairat.reporting.class_labels.fit_class_ticks`)."""
    attack = _robust(classwise)
    df = _select(
        classwise, dataset=dataset, model=model, eps=eps, checkpoint=checkpoint, attack=attack
    ).copy()
    methods, classes = _methods(df), [str(c) for c in dict.fromkeys(df["class"])]
    grid = class_grid(df, methods, classes)
    annotate = len(classes) <= HEATMAP_ANNOTATED
    rows = heatmap_rows(len(classes))
    width = WIDTH if len(classes) <= HEATMAP_ANNOTATED else WIDE
    names_height = 0.1 + 0.045 * max((len(c) for c in classes), default=1)  # inches, at 45°
    with plt.rc_context(style()):
        fig, axes = plt.subplots(
            len(rows),
            1,
            # at least the height of the colour bar's label
            figsize=(
                width,
                max(1.3, 0.5 + len(rows) * 0.2 * len(methods)) + len(rows) * names_height,
            ),
            squeeze=False,
            layout="constrained",
        )
        for r, (ax, cols) in enumerate(zip(axes[:, 0], rows, strict=True)):
            sns.heatmap(
                grid.iloc[:, cols],
                ax=ax,
                vmin=0,
                vmax=100,
                cmap="viridis",
                annot=annotate,
                fmt=".0f",
                annot_kws={"fontsize": 5},
                linewidths=0.3,
                linecolor="white",
                cbar=False,
                xticklabels=True,
                yticklabels=True,
            )
            ax.set_xlabel("class" if r == len(rows) - 1 else "")
            ax.set_ylabel("")
            ax.tick_params(length=0)
        bar = fig.colorbar(
            axes[0, 0].collections[0],
            ax=axes[:, 0].tolist(),
            label="robust accuracy (%)",
            pad=0.02,
            aspect=20 * len(rows),  # as thin as one row's bar
        )
        bar.ax.tick_params(length=2, width=0.5)
        bar.outline.set_visible(False)
        axes[0, 0].set_title(_title(dataset, model, f"eps {eps}", checkpoint, attack))
        for r, ax in enumerate(axes[:, 0]):  # one draw measures every row
            fit_class_ticks(ax, "x", draw=r == 0)
            fit_class_ticks(ax, "y", classes=False, draw=False)  # the runs
        _save(fig, outs)
