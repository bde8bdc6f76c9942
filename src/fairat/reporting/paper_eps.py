"""The paper's ``eps`` figure: average and worst-class robust accuracy against eps, a line per
method, std bars over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from fairat.config.eps import parse_eps  # noqa: E402
from fairat.reporting.paper_style import (  # noqa: E402
    WIDTH,
    _methods,
    _robust,
    _save,
    _select,
    _title,
    method_styles,
    style,
)
from fairat.reporting.summary import run_summaries  # noqa: E402


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
