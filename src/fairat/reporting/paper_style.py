"""The look shared by every paper figure, and the helpers that select, title and save one.

One style for all (seaborn whitegrid, paper context, the "colorblind" palette, small fonts for a
3.4-inch column), one colour and marker per method, kept across figures. A figure's robust
accuracy is under ``fairat.reporting.summary.robust_attack`` (``worst_case`` when evaluated).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from fairat.reporting.summary import robust_attack  # noqa: E402
from fairat.runtime.checkpoint import atomic_write  # noqa: E402

WIDTH = 3.4  # inches: one column of a two-column paper
WIDE = 7.0  # inches: both columns
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p", "d"]


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
