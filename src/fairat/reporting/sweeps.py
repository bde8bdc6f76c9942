"""Hyper-parameter sweeps: the sensitivity table and figure of each swept variant.

A variant with ``sweep:`` (:mod:`fairat.config.variants`) trains one run per value. For each swept key
the table puts the runs side by side: per dataset, model, eps, checkpoint, value and attack
(clean and the summary's robust attack), the mean over seeds of the average and worst-class
accuracy with their 95 % confidence half-widths, and the same numbers of the variant's baseline
(the reference line of the figure). The figure has one panel per swept key and block, accuracy
against the value: clean in one colour and robust in another, average solid and worst class
dashed, error bars the 95 % CI over seeds, the baseline as thin horizontal lines of the same
style. Values that are not all numbers are spaced evenly in the order the config lists them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fairat.reporting.figures import save_figure  # noqa: E402

SWEEP_COLUMNS = [
    "dataset",
    "model",
    "eps",
    "checkpoint",
    "variant",
    "method",
    "parameter",
    "value",
    "others",
    "run",
    "attack",
    "n_seeds",
    "average_mean",
    "average_ci95",
    "worst_mean",
    "worst_ci95",
    "baseline",
    "baseline_average",
    "baseline_worst",
]
BLOCK = ["dataset", "model", "eps", "checkpoint"]


def sweep_table(summary: pd.DataFrame, runs: dict[str, dict]) -> pd.DataFrame:
    """Tidy sensitivity table. ``runs`` maps each run name to ``{"variant", "sweep": {key:
    value}, "baseline"}`` (the workflow passes it from the config); runs without a sweep are
    left out. ``others`` names the values of the variant's other swept keys (``beta=6``)."""
    robust = summary["robust_attack"].iloc[0] if len(summary) else "worst_case"
    attacks = list(dict.fromkeys(["clean", robust]))
    stats = summary[summary["attack"].isin(attacks)].set_index([*BLOCK, "run", "attack"])
    rows = []
    for run, meta in runs.items():
        for parameter, value in meta["sweep"].items():
            others = ", ".join(f"{k}={v}" for k, v in meta["sweep"].items() if k != parameter)
            for key, r in stats.xs(run, level="run").iterrows() if _has(stats, run) else []:
                *block, attack = key
                base = _baseline(stats, block, meta.get("baseline"), attack)
                rows.append(
                    {
                        **dict(zip(BLOCK, block, strict=True)),
                        "variant": meta["variant"],
                        "method": r["method"],
                        "parameter": parameter,
                        "value": value,
                        "others": others,
                        "run": run,
                        "attack": attack,
                        "n_seeds": int(r["n_seeds"]),
                        "average_mean": r["average_mean"],
                        "average_ci95": r["average_ci95"],
                        "worst_mean": r["worst_mean"],
                        "worst_ci95": r["worst_ci95"],
                        "baseline": meta.get("baseline") or "",
                        "baseline_average": base[0],
                        "baseline_worst": base[1],
                    }
                )
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def read_sweeps(path: str | Path) -> pd.DataFrame:
    """Read sweeps.csv keeping eps labels as strings and empty ``others``/``baseline``."""
    table = pd.read_csv(path, dtype={"eps": str, "others": str, "baseline": str})
    return table.fillna({"others": "", "baseline": ""})


def _has(stats: pd.DataFrame, run: str) -> bool:
    return run in stats.index.get_level_values("run")


def _baseline(stats: pd.DataFrame, block: list, baseline: str | None, attack: str):
    key = (*block, baseline, attack)
    if baseline and key in stats.index:
        r = stats.loc[key]
        return float(r["average_mean"]), float(r["worst_mean"])
    return np.nan, np.nan


STYLE = {  # (attack kind, statistic) -> line style
    ("clean", "average"): {"color": "#0072B2", "linestyle": "-", "marker": "o"},
    ("clean", "worst"): {"color": "#0072B2", "linestyle": "--", "marker": "s"},
    ("robust", "average"): {"color": "#D55E00", "linestyle": "-", "marker": "o"},
    ("robust", "worst"): {"color": "#D55E00", "linestyle": "--", "marker": "s"},
}


def plot_sweep(table: pd.DataFrame, variant: str, outs: list[str | Path]) -> int:
    """The sensitivity figure of one variant (PNG/PDF by suffix); returns the panel count.
    Checkpoint ``last`` is drawn when present (else the first one in the table)."""
    df = table[table["variant"] == variant]
    if df.empty:
        raise ValueError(f"sweep figure: no evaluated runs of variant {variant!r}")
    checkpoint = "last" if "last" in set(df["checkpoint"]) else df["checkpoint"].iloc[0]
    df = df[df["checkpoint"] == checkpoint]
    panels = list(df.groupby(["parameter", "dataset", "model", "eps"], sort=False))
    ncols = min(len(panels), 3)
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(max(6.4, 4.2 * ncols), 3.2 * nrows + 1.2),
        squeeze=False,
        constrained_layout=True,
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, ((parameter, dataset, model, eps), block) in zip(axes.flat, panels, strict=False):
        _panel(ax, block, parameter)
        ax.set_title(f"{dataset} / {model} / eps {eps}", fontsize=9)
    handles = [
        plt.Line2D([], [], **style, label=f"{kind} {stat}") for (kind, stat), style in STYLE.items()
    ]
    base = df["baseline"].iloc[0]
    if base:
        handles.append(plt.Line2D([], [], color="0.4", linewidth=0.8, label=f"baseline: {base}"))
    robust = [a for a in dict.fromkeys(df["attack"]) if a != "clean"]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(
        f"{variant}: accuracy against the swept value\n{checkpoint} checkpoint; robust = "
        f"{robust[0] if robust else 'none'}; bars: 95 % CI over seeds",
        fontsize=10,
    )
    save_figure(fig, outs)
    return len(panels)


def _panel(ax: plt.Axes, block: pd.DataFrame, parameter: str) -> None:
    values = list(dict.fromkeys(block["value"]))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    position = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    span = (max(position.values()) - min(position.values())) or 1.0
    order = list(STYLE)  # each line a little apart, so that error bars do not hide each other
    groups = list(block.groupby("others", sort=False))
    for g, (others, rows) in enumerate(groups):
        for attack, sel in rows.groupby("attack", sort=False):
            kind = "clean" if attack == "clean" else "robust"
            sel = sel.assign(x=[position[v] for v in sel["value"]]).sort_values("x")
            for stat in ("average", "worst"):
                style = dict(STYLE[(kind, stat)])
                if g:
                    style["alpha"] = 0.55
                dodge = (order.index((kind, stat)) - 1.5) * 0.012 * span
                ax.errorbar(
                    sel["x"] + dodge,
                    sel[f"{stat}_mean"] * 100,
                    yerr=np.nan_to_num(sel[f"{stat}_ci95"].to_numpy(float)) * 100,
                    capsize=2,
                    linewidth=1.2,
                    markersize=4,
                    **style,
                )
                if g == 0:
                    line = sel[f"baseline_{stat}"].iloc[0]
                    if not np.isnan(line):
                        ax.axhline(
                            line * 100,
                            color=style["color"],
                            linestyle=style["linestyle"],
                            linewidth=0.8,
                            alpha=0.5,
                        )
        if others and len(groups) > 1:
            ax.annotate(others, (0.01, 0.01 + 0.06 * g), xycoords="axes fraction", fontsize=7)
    if not numeric:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(parameter)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
