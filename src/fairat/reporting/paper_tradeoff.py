"""The paper's ``tradeoff`` figure: average (x) against worst-class (y) robust accuracy, a
labelled point per method, std bars over seeds in both directions; each label is set where it
covers no other label, marker or error bar (:func:`_label_points`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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
