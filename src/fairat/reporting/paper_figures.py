"""Paper-style figures from classwise.csv and the runs' history.csv, each as PNG and PDF.

One style for all (seaborn whitegrid, paper context, the "colorblind" palette, small fonts for a
3.4-inch column), one colour and marker per method, kept across figures:

- ``heatmap``: per-class robust accuracy, methods x classes, mean over seeds;
- ``eps``: average and worst-class robust accuracy against eps, a line per method, std bars;
- ``tradeoff``: average (x) against worst-class (y) robust accuracy, a labelled point per
  method, std bars over seeds in both directions;
- ``epochs``: per-class validation robust accuracy over the training epochs, a panel per
  method, a line per class (mean over seeds) and the class average in black.

Robust accuracy is under ``fairat.reporting.summary.robust_attack`` (``worst_case`` when evaluated).
``figure_stem`` names the files; ``write_figures`` draws every requested output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from fairat.config.eps import eps_tag, parse_eps  # noqa: E402
from fairat.reporting.class_labels import fit_class_ticks, fitting_legend  # noqa: E402
from fairat.reporting.figures import class_grid  # noqa: E402
from fairat.reporting.summary import robust_attack, run_summaries  # noqa: E402
from fairat.training.checkpoint import atomic_write  # noqa: E402

KINDS = ("heatmap", "eps", "tradeoff", "epochs")
FORMATS = ("png", "pdf")
WIDTH = 3.4  # inches: one column of a two-column paper
WIDE = 7.0  # inches: both columns
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p", "d"]
HISTORY_PREFIX = "val_robust_"


def style() -> dict:
    """The rc parameters of every paper figure (use with ``plt.rc_context``)."""
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper")}
    rc.update(
        {
            "font.size": 7,
            "axes.titlesize": 7,
            "axes.labelsize": 7,
            "xtick.labelsize": 6,
            "ytick.labelsize": 6,
            "legend.fontsize": 6,
            "legend.title_fontsize": 6,
            "lines.linewidth": 1.0,
            "lines.markersize": 3.5,
            "errorbar.capsize": 1.5,
            "pdf.fonttype": 42,  # embed TrueType: editable text in the PDF
            "ps.fonttype": 42,
            "savefig.dpi": 200,
        }
    )
    return rc


def method_styles(methods: Sequence[str]) -> dict[str, dict]:
    """Colour (the colorblind palette, cycled), marker and line style of each method, by order."""
    palette = sns.color_palette("colorblind", 10)
    return {
        m: {
            "color": palette[i % len(palette)],
            "marker": MARKERS[i % len(MARKERS)],
            "linestyle": "-" if i < len(palette) else "--",
        }
        for i, m in enumerate(methods)
    }


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


def _save(fig: plt.Figure, outs: Sequence[str | Path]) -> None:
    """Write the figure in each format. A constrained layout is computed once and then frozen
    (it already makes room for titles and outside legends); other figures are cropped to their
    tight bounding box."""
    bbox = "tight"
    if fig.get_layout_engine() is not None:
        fig.canvas.draw()
        fig.set_layout_engine("none")
        bbox = None
    for out in outs:
        fmt = Path(out).suffix.lstrip(".")
        atomic_write(
            out,
            lambda tmp, f=fmt: fig.savefig(
                tmp, format=f, bbox_inches=bbox, pad_inches=0.02, metadata=_metadata(f)
            ),
        )
    plt.close(fig)


def _metadata(fmt: str) -> dict | None:
    """Leave the creation date out so that reruns write the same PDF."""
    return {"CreationDate": None} if fmt == "pdf" else None


def _robust(classwise: pd.DataFrame) -> str:
    return robust_attack(list(dict.fromkeys(classwise["attack"])))


def _select(df: pd.DataFrame, **values) -> pd.DataFrame:
    for column, value in values.items():
        df = df[df[column].astype(str) == str(value)]
    return df


def _methods(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["run"]))


def _title(*parts) -> str:
    return " / ".join(str(p) for p in parts)


# heatmap ---------------------------------------------------------------------------------------


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


# eps -------------------------------------------------------------------------------------------


def plot_eps(
    classwise: pd.DataFrame,
    dataset: str,
    model: str,
    checkpoint: str,
    outs: Sequence[str | Path],
) -> None:
    """Average and worst-class robust accuracy (%) against eps, a line per method, mean ± std
    over seeds."""
    attack = _robust(classwise)
    df = _select(classwise, dataset=dataset, model=model, checkpoint=checkpoint, attack=attack)
    runs = run_summaries(df)
    runs["eps_value"] = [parse_eps(e) for e in runs["eps"]]
    styles = method_styles(_methods(classwise))  # the same style for a method in every figure
    methods = [m for m in styles if m in set(runs["run"])]
    ticks = runs.drop_duplicates("eps_value").sort_values("eps_value")
    lo, hi = float(ticks["eps_value"].min()), float(ticks["eps_value"].max())
    pad = 0.15 * (hi - lo) if hi > lo else (0.5 * lo if lo > 0 else 0.5)
    # spread the methods a little around each eps so that their error bars stay apart
    dodge = 0.25 * (hi - lo + 2 * pad) / max(len(methods), 1) * 0.5
    with plt.rc_context(style()):
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.6), sharex=True, layout="constrained")
        for ax, metric, label in zip(
            axes, ("average", "worst"), ("average", "worst class"), strict=True
        ):
            for i, method in enumerate(methods):
                stats = (
                    runs[runs["run"] == method]
                    .groupby("eps_value")[metric]
                    .agg(["mean", "std"])
                    .sort_index()
                    * 100
                )
                s = styles[method]
                ax.errorbar(
                    stats.index + (i - (len(methods) - 1) / 2) * dodge,
                    stats["mean"],
                    yerr=stats["std"].fillna(0),
                    label=method,
                    color=s["color"],
                    marker=s["marker"],
                    linestyle=s["linestyle"],
                    markersize=3,
                    elinewidth=0.6,
                )
            ax.set_title(f"{label} ({attack})")
            ax.set_xlabel("eps")
            ax.set_xticks(ticks["eps_value"], ticks["eps"])
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(-2, 102)
        axes[0].set_ylabel("robust accuracy (%)")
        fig.suptitle(_title(dataset, model, checkpoint), fontsize=7)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=min(len(methods), 4),
            frameon=False,
            handlelength=2.2,
            columnspacing=1.0,
        )
        _save(fig, outs)


# tradeoff --------------------------------------------------------------------------------------


def _overlap(a: tuple, b: tuple) -> float:
    """Overlap area of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def _label_points(ax: plt.Axes, xs, ys, labels, colors, xerr=None, yerr=None) -> None:
    """Label each point with its name at the first place around it (8 directions, growing
    distance) that covers no other label, marker or error bar and nothing outside the axes; the
    least covered place when none is free. A thin leader line joins a label set away from its
    point."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0  # pixels per point
    points = ax.transData.transform(np.column_stack([xs, ys]))
    frame = ax.get_window_extent(renderer)
    frame = (frame.x0, frame.y0, frame.x1, frame.y1)
    marker = 3.0 * px
    markers = [(x - marker, y - marker, x + marker, y + marker) for x, y in points]
    bars = []  # error bars, as thin boxes, every point's own included
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        for err, horizontal in ((xerr, True), (yerr, False)):
            e = 0.0 if err is None or math.isnan(err[k]) else float(err[k])
            if e > 0:
                lo = (x - e, y) if horizontal else (x, y - e)
                hi = (x + e, y) if horizontal else (x, y + e)
                (x0, y0), (x1, y1) = ax.transData.transform([lo, hi])
                bars.append((x0 - px, y0 - px, x1 + px, y1 + px))
    sizes = []
    for text in labels:
        t = ax.text(0, 0, text, fontsize=5.5)
        box = t.get_window_extent(renderer)
        sizes.append((box.width, box.height))
        t.remove()
    directions = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    radii = [4.0, 9.0, 15.0, 22.0, 30.0, 40.0]  # points
    crowd = [sum(np.hypot(*(points - p).T) < 25 * px) for p in points]
    placed: list[tuple] = []
    for i in sorted(range(len(labels)), key=lambda k: (crowd[k], k)):
        (x, y), (w, h) = points[i], sizes[i]
        best = None
        for r in radii:
            for dx, dy in directions:
                norm = math.hypot(dx, dy)
                ox, oy = dx / norm * r * px, dy / norm * r * px
                x0 = x + ox - (0 if dx > 0 else w if dx < 0 else w / 2)
                y0 = y + oy - (0 if dy > 0 else h if dy < 0 else h / 2)
                box = (x0, y0, x0 + w, y0 + h)
                inside = _overlap(box, frame)
                cost = (w * h - inside) * 4 + sum(_overlap(box, b) for b in placed)
                cost += sum(_overlap(box, m) for j, m in enumerate(markers) if j != i)
                cost += sum(_overlap(box, b) for b in bars)
                cost = round(cost, 3)  # in square pixels: float noise is no overlap
                if best is None or cost < best[0]:
                    best = (cost, r, dx, dy, (ox / px, oy / px), box)
            if best[0] == 0:
                break
        _, r, dx, dy, offset, box = best
        placed.append(box)
        lead = r > radii[0]
        ax.annotate(
            labels[i],
            (xs[i], ys[i]),
            xytext=offset,
            textcoords="offset points",
            ha="left" if dx > 0 else "right" if dx < 0 else "center",
            va="bottom" if dy > 0 else "top" if dy < 0 else "center",
            fontsize=5.5,
            color=tuple(0.65 * c for c in colors[i][:3]),
            annotation_clip=False,
            arrowprops={
                "arrowstyle": "-",
                "color": colors[i],
                "lw": 0.4,
                "shrinkA": 0,
                "shrinkB": 2.5,
            }
            if lead
            else None,
        )


def _limits(lo: float, hi: float) -> tuple[float, float]:
    """Axis limits (%) around [lo, hi]: a margin, at least 10 points wide, inside [-1, 101]."""
    a, b = lo - max(2.0, 0.06 * (hi - lo)), hi + max(2.0, 0.06 * (hi - lo))
    if b - a < 10:
        a, b = (a + b) / 2 - 5, (a + b) / 2 + 5
    if a < -1:
        a, b = -1, b + (-1 - a)
    if b > 101:
        a, b = max(a - (b - 101), -1), 101
    return a, b


def plot_tradeoff(
    classwise: pd.DataFrame,
    dataset: str,
    model: str,
    eps: str,
    checkpoint: str,
    outs: Sequence[str | Path],
) -> None:
    """Average (x) against worst-class (y) robust accuracy (%), a labelled point per method,
    mean over seeds with std bars in both directions."""
    attack = _robust(classwise)
    df = _select(
        classwise, dataset=dataset, model=model, eps=eps, checkpoint=checkpoint, attack=attack
    )
    runs = run_summaries(df)
    styles = method_styles(_methods(classwise))  # the same style for a method in every figure
    methods = [m for m in styles if m in set(runs["run"])]
    stats = (
        runs.groupby("run", sort=False)[["average", "worst"]].agg(["mean", "std"]).reindex(methods)
        * 100
    )
    with plt.rc_context(style()):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.7))
        for method in methods:
            s, row = styles[method], stats.loc[method]
            ax.errorbar(
                row[("average", "mean")],
                row[("worst", "mean")],
                xerr=0 if math.isnan(row[("average", "std")]) else row[("average", "std")],
                yerr=0 if math.isnan(row[("worst", "std")]) else row[("worst", "std")],
                color=s["color"],
                marker=s["marker"],
                linestyle="none",
                markersize=4,
                elinewidth=0.6,
            )
        x, y = stats[("average", "mean")], stats[("worst", "mean")]
        sx, sy = stats[("average", "std")].fillna(0), stats[("worst", "std")].fillna(0)
        ax.set_xlim(_limits(float((x - sx).min()), float((x + sx).max())))
        ax.set_ylim(_limits(float((y - sy).min()), float((y + sy).max())))
        ax.set_xlabel(f"average robust accuracy (%, {attack})")
        ax.set_ylabel("worst-class robust accuracy (%)")
        ax.set_title(_title(dataset, model, f"eps {eps}", checkpoint))
        fig.tight_layout(pad=0.3)
        _label_points(
            ax, list(x), list(y), methods, [styles[m]["color"] for m in methods], list(sx), list(sy)
        )
        _save(fig, outs)


# epochs ----------------------------------------------------------------------------------------


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


# all of them -----------------------------------------------------------------------------------


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
