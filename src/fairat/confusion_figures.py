"""The figure of where attacked samples go, one per run block (dataset, model, eps).

Top: each run's attacked-sample confusion matrix (true class by predicted class), counts summed
over seeds and each row divided by its total, so the diagonal is class-wise robust accuracy;
one colour scale for all runs. Bottom: run by true class, the share of the class's samples the
attack took (1 - diagonal) as colour and, written in the cell, the class that took most of it
with its share of the class's samples: the classes each class's robustness is lost to.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.confusion import class_order, lost_to, row_normalised  # noqa: E402
from fairat.figures import MAX_HEATMAP_CLASSES, save_figure  # noqa: E402

MAX_COLUMNS = 5  # confusion matrices per row of the grid
NAME_CHARS = 5  # class names in the lost-to cells are cut to this many characters


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
    lost_height = 0.9 + 0.32 * len(runs)
    ticks = k <= MAX_HEATMAP_CLASSES  # class names on the axes and in the cells
    sns.set_theme(style="white", context="paper")
    fig = plt.figure(
        figsize=(
            max(1.2 + cell * ncols, 2.0 + (0.55 if ticks else 0.08) * k),
            cell * nrows + 0.8 + lost_height,
        ),
        constrained_layout=True,
    )
    top, bottom = fig.subfigures(2, 1, height_ratios=[cell * nrows + 0.6, lost_height])
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
        ax.set_xlabel("predicted" if n // ncols == nrows - 1 else "")
        ax.set_ylabel("true" if n % ncols == 0 else "")
        ax.tick_params(labelsize=6, length=0)
    top.colorbar(
        axes.flat[0].collections[0],
        ax=axes.ravel().tolist(),
        shrink=0.6,
        label="% of the true class's samples",
    )
    top.suptitle(
        f"{title}: confusion under {attack}, rows normalised (diagonal: class-wise robust "
        "accuracy), seeds summed",
        fontsize=9,
    )
    _lost_to_panel(bottom.subplots(), matrices, classes, attack)
    save_figure(fig, outs)


def _lost_to_panel(ax: plt.Axes, matrices: dict, classes: list[str], attack: str) -> None:
    lost = {run: lost_to(m) for run, m in matrices.items()}
    share = pd.DataFrame({run: t["lost"].to_numpy() * 100 for run, t in lost.items()}).T
    share.columns = classes
    annotate = len(classes) <= MAX_HEATMAP_CLASSES
    labels = pd.DataFrame(
        {
            run: [
                f"→{c[:NAME_CHARS]}\n{s * 100:.0f}%" if c else ""
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
        "where each class's robustness goes: colour = share lost; text = the class that took "
        "most of it and its share of the class"
        if annotate
        else "share of each class lost",
        fontsize=8,
    )
