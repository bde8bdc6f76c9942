"""Seaborn figures from classwise.csv."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def strongest_attack(attacks: list[str]) -> str:
    """The PGD attack with the most steps, else fgsm, else clean."""
    pgd = [a for a in attacks if re.fullmatch(r"pgd\d+", a)]
    if pgd:
        return max(pgd, key=lambda a: int(a[3:]))
    return "fgsm" if "fgsm" in attacks else attacks[0]


def plot_classwise_robust(
    classwise: pd.DataFrame, out: str | Path, checkpoint: str = "last"
) -> str:
    """Grouped bars: per-class robust accuracy by method, one panel per (dataset, model, eps).

    Bars are means over seeds with the standard deviation as error bars. Returns the attack used.
    """
    attack = strongest_attack(list(dict.fromkeys(classwise["attack"])))
    df = classwise[(classwise["attack"] == attack) & (classwise["checkpoint"] == checkpoint)].copy()
    df["panel"] = df["dataset"] + " / " + df["model"] + " / eps " + df["eps"].astype(str)
    panels = list(dict.fromkeys(df["panel"]))
    sns.set_theme(style="whitegrid", context="paper")
    grid = sns.catplot(
        data=df,
        kind="bar",
        x="class",
        y="accuracy",
        hue="method",
        col="panel",
        col_wrap=min(len(panels), 2),
        errorbar="sd",
        palette="colorblind",
        height=3.0,
        aspect=1.6,
        sharex=False,
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("class", f"robust accuracy ({attack})")
    grid.set(ylim=(0, 1))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    grid.savefig(out, dpi=150)
    plt.close(grid.figure)
    return attack
