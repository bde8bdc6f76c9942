"""The paper's ``epochs`` figure from the runs' history.csv: per-class validation robust
accuracy over the training epochs, a panel per method, a line per class (mean over seeds) and
the class average in black."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from fairat.reporting.class_labels import fitting_legend  # noqa: E402
from fairat.reporting.paper_style import (  # noqa: E402
    WIDE,
    WIDTH,
    _methods,
    _save,
    _select,
    _title,
    style,
)

HISTORY_PREFIX = "val_robust_"


def history_classes(columns: Sequence[str]) -> list[str]:
    """Class names of the ``val_robust_<class>`` columns (not the average or worst one)."""
    return [
        c[len(HISTORY_PREFIX) :]
        for c in columns
        if c.startswith(HISTORY_PREFIX) and c not in ("val_robust_avg", "val_robust_worst")
    ]


def read_histories(paths: Sequence[str | Path], runs: Sequence[dict]) -> pd.DataFrame:
    """The history.csv files, each tagged with its run's dataset, model, method, eps (label,
    as in classwise.csv) and seed, in one long frame."""
    frames = []
    for path, run in zip(paths, runs, strict=True):
        history = pd.read_csv(path)
        for key in ("dataset", "model", "run", "method", "eps", "seed"):
            history[key] = str(run[key]) if key != "seed" else int(run[key])
        frames.append(history)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def plot_epochs(
    histories: pd.DataFrame,
    dataset: str,
    model: str,
    eps: str,
    outs: Sequence[str | Path],
) -> None:
    """Per-class validation robust accuracy (%) over epochs, a panel per method, a line per
    class (mean over seeds) and the class average (black, dashed)."""
    df = _select(histories, dataset=dataset, model=model, eps=eps)
    methods = _methods(df)
    classes = history_classes(
        [c for c in df.columns if df[c].notna().any()] if len(df) else histories.columns
    )
    columns = [f"{HISTORY_PREFIX}{c}" for c in classes]
    ncols = min(len(methods), 4) or 1
    nrows = max(math.ceil(len(methods) / ncols), 1)
    palette = sns.color_palette("colorblind", max(len(classes), 1))
    with plt.rc_context(style()):
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(WIDE if ncols > 2 else WIDTH, 0.8 + 1.5 * nrows),
            sharey=True,
            squeeze=False,
            layout="constrained",
        )
        for ax in axes.flat[len(methods) :]:
            ax.set_axis_off()
        for ax, method in zip(axes.flat, methods, strict=False):
            mean = df[df["run"] == method].groupby("epoch")[columns].mean().sort_index() * 100
            few = len(mean) <= 3  # a line needs markers to show one or two epochs
            for i, (cls, col) in enumerate(zip(classes, columns, strict=True)):
                ax.plot(
                    mean.index,
                    mean[col],
                    color=palette[i % len(palette)],
                    lw=0.7,
                    marker="o" if few else None,
                    markersize=2,
                    label=cls,
                )
            ax.plot(
                mean.index,
                mean[columns].mean(axis=1),
                color="black",
                lw=1.2,
                ls="--",
                marker="o" if few else None,
                markersize=2.5,
                label="avg",
            )
            ax.set_title(method, pad=2)
            ax.set_ylim(-2, 102)
            if len(mean) <= 6:
                ax.set_xticks(list(mean.index))
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if len(mean) == 1:
                ax.set_xlim(mean.index[0] - 0.5, mean.index[0] + 0.5)
        for column in range(ncols):  # the lowest panel of each column
            used = [r for r in range(nrows) if r * ncols + column < len(methods)]
            axes[used[-1] if used else 0, column].set_xlabel("epoch")
        for ax in axes[:, 0]:
            ax.set_ylabel("val. robust acc. (%)")
        fig.suptitle(
            _title(dataset, model, f"eps {eps}")
            + (": " if ncols > 2 else "\n")  # two lines in one column's width
            + "per-class validation robust accuracy, mean over seeds",
            fontsize=7,
        )
        if len(classes) <= 20:
            handles, labels = axes.flat[0].get_legend_handles_labels()
            legend = fitting_legend(  # as many columns as the figure's width holds
                fig,
                handles,
                labels,
                loc="outside lower center",
                ncol=11,
                frameon=False,
                title="class",
                handlelength=1.5,
                columnspacing=0.8,
            )
            # long names in few columns: the figure grows by what the legend needs beyond
            # the room it always had (the digits' one row of names keeps the figure's size)
            need = 0.45 + 1.5 * nrows + legend.get_window_extent().height / fig.dpi
            fig.set_figheight(max(fig.get_figheight(), need))
        _save(fig, outs)
