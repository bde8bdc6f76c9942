"""The figure of where attacked samples go, one per run block (dataset, model, eps).

Top: each run's attacked-sample confusion matrix (true class by predicted class), counts summed
over seeds and each row divided by its total, so the diagonal is class-wise robust accuracy;
one colour scale for all runs. Bottom: run by true class, the share of the class's samples the
attack took (1 - diagonal) as colour and, written in the cell, the class that took most of it
with its share of the class's samples: the classes each class's robustness is lost to.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.evaluation.confusion import class_order, lost_to, row_normalised  # noqa: E402
from fairat.reporting.class_labels import (  # noqa: E402
    display_name,
    fit_cell_texts,
    fit_class_ticks,
    keep_inside,
)
from fairat.reporting.figures import MAX_HEATMAP_CLASSES, save_figure  # noqa: E402

MAX_COLUMNS = 5  # confusion matrices per row of the grid
INDEX_STEP = 20  # beyond MAX_HEATMAP_CLASSES, a tick with the class's index every this many


def fill_title(title: str, width_in: float, fontsize: float) -> str:
    """``title`` broken into lines that fit ``width_in`` inches at ``fontsize`` points (an
    average character is taken as 0.6 of the font size wide, with a margin)."""
    width = max(20, int(0.9 * width_in * 72 / (0.6 * fontsize)))
    return textwrap.fill(title, width, break_on_hyphens=False)


def plot_confusion_block(
    confusion: pd.DataFrame, outs: list[str | Path], *, attack: str, title: str
) -> None:
    """The figure of one run block: ``confusion`` holds its rows of confusion.csv for one
    attack and checkpoint (every run and seed of the block)."""
    runs = list(dict.fromkeys(confusion["run"]))
    classes = class_order(confusion)
    k = len(classes)
    matrices = {r: row_normalised(confusion[confusion["run"] == r], classes) for r in runs}
    ncols = min(MAX_COLUMNS, len(runs))
    nrows = math.ceil(len(runs) / ncols)
    cell = 2.3 if k <= MAX_HEATMAP_CLASSES else 3.0
    ticks = k <= MAX_HEATMAP_CLASSES  # class names on the axes and in the cells
    # inches: the class names left of the first column, and the height that names longer
    # than CIFAR-10's take when turned under the matrices and under the lost-to panel
    longest = max(len(c) for c in classes) if ticks else 0
    names = 0.05 * longest if ticks else 0.2
    turned = max(0.0, 0.05 * longest - 0.5)
    lost_height = max(0.9 + 0.32 * len(runs), 1.9) + turned  # at least its colour bar's label
    top_height = cell * nrows + 0.6 + turned
    sns.set_theme(style="white", context="paper")
    width = max(1.2 + names + cell * ncols, 2.0 + (0.55 if ticks else 0.08) * k)
    fig = plt.figure(figsize=(width, top_height + 0.2 + lost_height), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[top_height, lost_height])
    axes = top.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[len(runs) :]:
        ax.set_axis_off()
    for n, (ax, run) in enumerate(zip(axes.flat, runs, strict=False)):
        sns.heatmap(
            matrices[run] * 100,
            ax=ax,
            vmin=0,
            vmax=100,
            cmap="rocket_r",
            square=True,
            cbar=False,
            xticklabels=classes if ticks else False,
            yticklabels=classes if ticks else False,
        )
        ax.set_title(run, fontsize=8)
        index = "" if ticks else " (class index)"
        ax.set_xlabel(f"predicted{index}" if n // ncols == nrows - 1 else "")
        ax.set_ylabel(f"true{index}" if n % ncols == 0 else "")
        ax.tick_params(labelsize=6, length=0)
    if not ticks:  # too many classes to name: their index, the order of confusion.csv
        _index_ticks(axes.flat[0], k, "xy")
    top.colorbar(
        axes.flat[0].collections[0],
        ax=axes.ravel().tolist(),
        shrink=0.6,
        label="% of the true class's samples",
    )
    top.suptitle(
        fill_title(
            f"{title}: confusion under {attack}, rows normalised (diagonal: class-wise robust "
            "accuracy), seeds summed",
            width,
            9,
        ),
        fontsize=9,
    )
    lost = bottom.subplots()
    _lost_to_panel(lost, matrices, classes, attack, width)
    if ticks:  # the shared axes of the matrices take one layout of their class names
        fit_class_ticks(axes[-1, 0], "x", shared=axes.flat[: len(runs)])
        # the same draw measures the other axes (each draw of this figure takes a second)
        fit_class_ticks(axes[0, 0], "y", shared=axes.flat[: len(runs)], draw=False)
        fit_class_ticks(lost, "x", draw=False)
    else:
        _index_ticks(lost, k, "x")
        lost.set_xlabel("true class (index)")
    fit_class_ticks(lost, "y", classes=False, draw=not ticks)  # the runs
    keep_inside(fig)
    if ticks:
        fit_cell_texts(lost, draw=False)  # in the cells' final width, as keep_inside drew it
    save_figure(fig, outs)


def _index_ticks(ax: plt.Axes, k: int, axes: str) -> None:
    """A tick at every INDEX_STEP-th cell of a heatmap of ``k`` classes, labelled with the
    class's index."""
    where, labels = [i + 0.5 for i in range(0, k, INDEX_STEP)], list(range(0, k, INDEX_STEP))
    if "x" in axes:
        ax.set_xticks(where, [str(i) for i in labels], rotation=0)
    if "y" in axes:
        ax.set_yticks(where, [str(i) for i in labels], rotation=0)


def _lost_to_panel(
    ax: plt.Axes, matrices: dict, classes: list[str], attack: str, width: float
) -> None:
    lost = {run: lost_to(m) for run, m in matrices.items()}
    share = pd.DataFrame({run: t["lost"].to_numpy() * 100 for run, t in lost.items()}).T
    share.columns = classes
    annotate = len(classes) <= MAX_HEATMAP_CLASSES
    labels = pd.DataFrame(
        {
            run: [
                f"→{display_name(c)}\n{s * 100:.0f}%" if c else ""
                for c, s in zip(t["to_class"], t["to_share"], strict=True)
            ]
            for run, t in lost.items()
        }
    ).T
    sns.heatmap(
        share,
        ax=ax,
        vmin=0,
        vmax=100,
        cmap="Reds",
        annot=labels.to_numpy() if annotate else False,
        fmt="",
        annot_kws={"fontsize": 5.5},
        linewidths=0.4 if annotate else 0,
        cbar_kws={"label": f"% lost under {attack}"},
        xticklabels=classes if annotate else False,
    )
    ax.set_xlabel("true class")
    ax.set_ylabel("")
    ax.tick_params(labelsize=7, length=0)
    ax.set_title(
        fill_title(
            "where each class's robustness goes: colour = share lost; text = the class that took "
            "most of it and its share of the class",
            width,
            8,
        )
        if annotate
        else "share of each class lost",
        fontsize=8,
    )
