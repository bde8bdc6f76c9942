"""Seaborn figures from classwise.csv."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.checkpoint import atomic_write  # noqa: E402
from fairat.tables import robust_attack  # noqa: E402


def save_figure(fig: plt.Figure, paths: list[str | Path], dpi: int = 200) -> None:
    """Save one figure to every path (PNG, PDF, ... by suffix), each written atomically."""
    for path in paths:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    plt.close(fig)


def plot_classwise_robust(
    classwise: pd.DataFrame, outs: list[str | Path], checkpoint: str = "last"
) -> str:
    """Grouped bars: per-class robust accuracy by method, one panel per (dataset, model, eps).

    Bars are means over seeds with the standard deviation as error bars. Returns the attack used.
    """
    attack = robust_attack(list(dict.fromkeys(classwise["attack"])))
    df = classwise[(classwise["attack"] == attack) & (classwise["checkpoint"] == checkpoint)].copy()
    df["panel"] = df["dataset"] + " / " + df["model"] + " / eps " + df["eps"].astype(str)
    panels = list(dict.fromkeys(df["panel"]))
    sns.set_theme(style="whitegrid", context="paper")
    grid = sns.catplot(
        data=df,
        kind="bar",
        x="class",
        y="accuracy",
        hue="run",
        col="panel",
        col_wrap=min(len(panels), 2),
        errorbar="sd",
        err_kws={"linewidth": 0.7},
        palette="colorblind",
        height=3.0,
        aspect=1.6,
        sharex=False,
    )
    _hatch_beyond_palette(grid)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("class", f"robust accuracy ({attack})")
    grid.set(ylim=(0, 1))
    save_figure(grid.figure, outs)
    return attack


def _hatch_beyond_palette(grid: sns.FacetGrid, colours: int = 10) -> None:
    """The colour-blind palette has ten colours: hatch the bars (and legend keys) of methods
    beyond the tenth, whose colours repeat."""
    for ax in grid.axes.flat:
        for i, container in enumerate(ax.containers):
            if i >= colours:
                for bar in container:
                    bar.set_hatch("////")
    legend = grid.legend
    if legend is not None:
        for i, handle in enumerate(legend.legend_handles):
            if i >= colours:
                handle.set_hatch("////")


def state_groups(columns: list[str], class_names: list[str]) -> dict[str, list[str]]:
    """Group per-class state columns by prefix (``weight_cat`` -> ``weight``); others go to ``""``."""
    groups: dict[str, list[str]] = {}
    for col in columns:
        if col == "epoch":
            continue
        prefix = next(
            (col[: -len(name) - 1] for name in class_names if col.endswith(f"_{name}")), ""
        )
        groups.setdefault(prefix, []).append(col)
    return groups


def plot_method_state(
    state: pd.DataFrame, class_names: list[str], outs: list[str | Path], title: str
) -> None:
    """One panel per kind of per-epoch method state (class weights, radii, ...), a line per class."""
    groups = state_groups(list(state.columns), class_names)
    sns.set_theme(style="whitegrid", context="paper")
    n = max(len(groups), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 2.8), squeeze=False)
    palette = sns.color_palette("colorblind", max(len(class_names), 1))
    for ax, (prefix, cols) in zip(axes[0], groups.items(), strict=False):
        for i, col in enumerate(cols):
            label = col[len(prefix) + 1 :] if prefix else col
            ax.plot(state["epoch"], state[col], label=label, color=palette[i % len(palette)])
        ax.set_xlabel("epoch")
        ax.set_ylabel(prefix or "value")
        if len(cols) <= 12:
            ax.legend(fontsize=6, ncol=2)
    if not groups:
        axes[0][0].text(0.5, 0.5, "this method keeps no per-epoch state", ha="center")
        axes[0][0].set_axis_off()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, outs)
