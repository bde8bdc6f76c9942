"""Seaborn figures from classwise.csv."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.reporting.class_labels import display_name, fit_class_ticks, grow_for_labels  # noqa: E402
from fairat.reporting.summary import robust_attack  # noqa: E402
from fairat.runtime.checkpoint import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, paths: list[str | Path], dpi: int = 200) -> None:
    """Save one figure to every path (PNG, PDF, ... by suffix), each written atomically."""
    for path in paths:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    plt.close(fig)


MAX_BARS_RUNS = 4  # grouped bars stay readable for this many runs per class
MAX_HEATMAP_CLASSES = 20  # beyond this, cells are too small: distributions instead


def classwise_kind(n_runs: int, n_classes: int) -> str:
    """Which per-class figure reads at a glance: ``bars`` (few runs and classes), ``heatmap``
    (class by run, many runs) or ``distribution`` (many classes, e.g. CIFAR-100's 100: the
    spread of class-wise accuracy per run, which can be bimodal, CODAT's Figure 6)."""
    if n_classes > MAX_HEATMAP_CLASSES:
        return "distribution"
    return "bars" if n_runs <= MAX_BARS_RUNS else "heatmap"


def plot_classwise_robust(
    classwise: pd.DataFrame, outs: list[str | Path], checkpoint: str = "last"
) -> str:
    """Per-class robust accuracy by run, one panel per (dataset, model, eps), means over seeds;
    the kind of figure is chosen by :func:`classwise_kind` from the largest panel. Returns the
    attack used."""
    attack = robust_attack(list(dict.fromkeys(classwise["attack"])))
    df = classwise[(classwise["attack"] == attack) & (classwise["checkpoint"] == checkpoint)].copy()
    df["panel"] = df["dataset"] + " / " + df["model"] + " / eps " + df["eps"].astype(str)
    panels = list(dict.fromkeys(df["panel"]))
    sizes = df.groupby("panel").agg(runs=("run", "nunique"), classes=("class", "nunique"))
    kind = classwise_kind(int(sizes["runs"].max()), int(sizes["classes"].max()))
    sns.set_theme(style="whitegrid", context="paper")
    if kind == "bars":
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
        for ax in grid.axes.flat:
            fit_class_ticks(ax, "x")
        # long names turned on their side take height of their own, not the bars'
        rows = math.ceil(len(panels) / min(len(panels), 2))
        grow_for_labels(grid.figure, grid.axes.flat, rows, room=0.45)
        grid.tight_layout()
        fig = grid.figure
    elif kind == "heatmap":
        fig = _heatmaps(df, panels, attack)
    else:
        fig = _distributions(df, panels, attack)
    save_figure(fig, outs)
    return attack


def class_grid(df: pd.DataFrame, runs: list[str], classes: list[str]) -> pd.DataFrame:
    """Accuracy (%) as the mean over seeds, a row per run and a column per class (as strings);
    a class without test samples is NaN. The heatmaps here and in paper_heatmap share it."""
    df = df.assign(accuracy=df["accuracy"].where(df["n"] > 0), **{"class": df["class"].astype(str)})
    grid = df.groupby(["run", "class"], sort=False)["accuracy"].mean().unstack("class")
    return grid.reindex(index=runs, columns=classes) * 100


def _heatmaps(df: pd.DataFrame, panels: list[str], attack: str) -> plt.Figure:
    """Class by run, robust accuracy (%) in each cell, mean over seeds; worst class outlined."""
    runs = list(dict.fromkeys(df["run"]))
    classes = [str(c) for c in dict.fromkeys(df["class"])]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.2 + 0.42 * len(classes) * len(panels) + 1.4, 1.0 + 0.32 * len(runs)),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, panel in zip(axes.flat, panels, strict=True):
        table = class_grid(df[df["panel"] == panel], runs, classes)
        sns.heatmap(
            table,
            ax=ax,
            vmin=0,
            vmax=100,
            cmap="viridis",
            annot=True,
            fmt=".0f",
            annot_kws={"fontsize": 7},
            cbar=ax is axes.flat[-1],
            cbar_kws={"label": f"robust accuracy (%), {attack}"},
            linewidths=0.5,
        )
        for i, (_, row) in enumerate(table.iterrows()):  # each run's worst class
            if row.notna().any():
                j = classes.index(row.idxmin())
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, edgecolor="red", lw=1.5))
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("class")
        ax.set_ylabel("")
    for p, ax in enumerate(axes.flat):  # one draw measures every panel
        fit_class_ticks(ax, "x", draw=p == 0)
    fig.draw_without_rendering()
    grow_for_labels(fig, axes.flat, 1, room=0.45)  # then the rows have their height back
    for p, ax in enumerate(axes.flat):
        fit_class_ticks(ax, "y", classes=False, draw=p == 0)  # the runs
    fig.suptitle("per-class robust accuracy, mean over seeds (red: each run's worst class)")
    return fig


def _distributions(df: pd.DataFrame, panels: list[str], attack: str) -> plt.Figure:
    """The spread of class-wise robust accuracy per run (each point a class, seed mean), with
    the worst class and the average marked: readable whatever the number of classes."""
    runs = list(dict.fromkeys(df["run"]))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.5 + 4.5 * len(panels), 1.2 + 0.35 * len(runs)),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, panel in zip(axes.flat, panels, strict=True):
        block = df[df["panel"] == panel]
        classes = [str(c) for c in dict.fromkeys(block["class"])]
        grid = class_grid(block, runs, classes)
        means = grid.stack().rename("accuracy").reset_index()  # a row per run and class
        sns.violinplot(
            data=means,
            x="accuracy",
            y="run",
            order=runs,
            ax=ax,
            cut=0,
            inner=None,
            color="0.85",
            linewidth=0.6,
        )
        sns.stripplot(
            data=means,
            x="accuracy",
            y="run",
            order=runs,
            ax=ax,
            size=2,
            color="0.25",
            jitter=0.2,
        )
        stats = means.groupby("run")["accuracy"].agg(["mean", "min"]).reindex(runs)
        ax.scatter(
            stats["mean"],
            range(len(runs)),
            marker="|",
            s=200,
            color="#0072B2",
            label="average",
            zorder=3,
        )
        ax.scatter(
            stats["min"],
            range(len(runs)),
            marker="x",
            s=40,
            color="#D55E00",
            label="worst class",
            zorder=3,
        )
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"class-wise robust accuracy (%), {attack}")
        ax.set_ylabel("")
        ax.set_title(panel, fontsize=9)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle("class-wise robust accuracy per run (a point per class, mean over seeds)")
    return fig


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
        # the longest name that ends the column: ``weight_pickup_truck`` is pickup_truck's
        # weight even where a class ``truck`` exists
        names = [name for name in class_names if col.endswith(f"_{name}")]
        prefix = col[: -len(max(names, key=len)) - 1] if names else ""
        groups.setdefault(prefix, []).append(col)
    return groups


def plot_method_state(
    state: pd.DataFrame, class_names: list[str], outs: list[str | Path], title: str
) -> None:
    """One panel per kind of per-epoch method state (class weights, radii, ...), a line per class
    in the same colour in every panel, with one legend of the classes for the figure; a panel of
    run-level state (``""`` group: CFA's ``calibrated``, ...) keeps a legend of its own."""
    groups = state_groups(list(state.columns), class_names)
    sns.set_theme(style="whitegrid", context="paper")
    n = max(len(groups), 1)
    class_legend = any(groups) and len(class_names) <= 20
    longest = max((len(display_name(c)) for c in class_names), default=0)
    # inches at the right for the class legend, as wide as its longest name (7 pt)
    legend_width = max(0.8, 0.45 + 0.055 * longest) if class_legend else 0.0
    fig, axes = plt.subplots(
        1, n, figsize=(3.2 * n + legend_width, 2.8), squeeze=False, layout="constrained"
    )
    palette = sns.color_palette("colorblind", max(len(class_names), 1))
    class_lines = {}
    for ax, (prefix, cols) in zip(axes[0], groups.items(), strict=False):
        for i, col in enumerate(cols):
            if prefix:
                name = col[len(prefix) + 1 :]
                k = class_names.index(name)
                (line,) = ax.plot(state["epoch"], state[col], color=palette[k % len(palette)])
                class_lines.setdefault(k, (line, display_name(name)))
            else:
                ax.plot(state["epoch"], state[col], label=col, color=palette[i % len(palette)])
        ax.set_xlabel("epoch")
        ax.set_ylabel(prefix or "value")
        if not prefix and len(cols) <= 12:
            ax.legend(fontsize=6, ncol=2)
    if class_legend and class_lines:
        handles, labels = zip(*(class_lines[k] for k in sorted(class_lines)), strict=True)
        fig.legend(handles, labels, title="class", loc="outside right center", fontsize=7)
    if not groups:
        axes[0][0].text(0.5, 0.5, "this method keeps no per-epoch state", ha="center")
        axes[0][0].set_axis_off()
    fig.suptitle(title, fontsize=9)
    save_figure(fig, outs)
