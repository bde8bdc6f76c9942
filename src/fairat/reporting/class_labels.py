"""Class names that stay legible on a figure's axis or in its legend, whatever the data set.

The default run's digits are called ``0`` .. ``9`` and sit side by side anywhere; CIFAR-10's
(``airplane``, ``automobile``) run into each other at the same spacing, and CIFAR-100 has 100
names such as ``aquarium_fish``. :func:`fit_class_ticks` lays the class tick labels of one
axis out from the space the axis gives each of them, measured on the drawn figure, taking the
first of these that fits:

1. horizontal, as set (digits: nothing changes);
2. horizontal, names of several words wrapped on two lines;
3. turned 45 degrees, right end under the tick (``ha='right'``, anchored rotation);
4. turned 90 degrees;
5. 90 degrees in a smaller font, down to ``MIN_FONTSIZE``;
6. 90 degrees in that font, a label on every k-th tick only (k as small as fits).

Underscores are shown as spaces throughout (:func:`display_name`). A y axis keeps its labels
horizontal and only shrinks the font, then thins. :func:`fitting_legend` places a figure
legend with as many columns as fit in the figure's width.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

MIN_FONTSIZE = 5.0  # points: below this a printed label is not read
GAP = 1.5  # points between two neighbouring labels


def display_name(name) -> str:
    """How a class is written on a figure: underscores become spaces (``aquarium fish``)."""
    return str(name).replace("_", " ")


def display_names(names: Sequence) -> list[str]:
    return [display_name(n) for n in names]


def wrap_name(name: str) -> str:
    """A name of several words on two lines, split where the longer line is shortest."""
    words = name.split()
    if len(words) < 2:
        return name
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    first, second = min(splits, key=lambda s: max(len(s[0]), len(s[1])))
    return f"{first}\n{second}"


def _size(fig: plt.Figure, text: str, like: Text, fontsize: float) -> tuple[float, float]:
    """Width and height (points) of ``text`` written horizontally in ``like``'s font."""
    renderer = fig.canvas.get_renderer()
    probe = Text(0, 0, text, fontproperties=like.get_fontproperties(), figure=fig)
    probe.set_fontsize(fontsize)
    box = probe.get_window_extent(renderer)
    return box.width * 72 / fig.dpi, box.height * 72 / fig.dpi


def _spacing(ax: plt.Axes, axis: str, locs: Sequence[float]) -> float:
    """The smallest distance (points) between neighbouring ticks, on the drawn figure."""
    if len(locs) < 2:
        box = ax.get_window_extent()
        return (box.width if axis == "x" else box.height) * 72 / _root(ax).dpi
    index = 0 if axis == "x" else 1
    pixels = [
        ax.transData.transform((v, 0) if axis == "x" else (0, v))[index] for v in sorted(locs)
    ]
    return min(abs(b - a) for a, b in zip(pixels, pixels[1:], strict=False)) * 72 / _root(ax).dpi


def _root(ax: plt.Axes) -> plt.Figure:
    """The figure an axes is drawn on, also when it sits in a subfigure."""
    fig = ax.figure
    while getattr(fig, "_parent", None) is not None:  # a SubFigure's parent (sub)figure
        fig = fig._parent
    return fig


def fit_class_ticks(
    ax: plt.Axes,
    axis: str = "x",
    names: Sequence | None = None,
    *,
    classes: bool = True,
    shared: Sequence[plt.Axes] = (),
    draw: bool = True,
) -> str:
    """Lay out the class tick labels of ``ax``'s ``axis`` (``"x"`` or ``"y"``) so that no two
    collide; ``names`` replaces the labels (else the ones set are kept), underscores shown as
    spaces unless ``classes`` is false (run and method names, which are identifiers, keep
    theirs). Axes in ``shared`` share this axis with ``ax`` and get the same layout. Call it
    once the figure has its final size; ``draw=False`` measures the figure as last drawn
    (several axes laid out after one draw: drawing a large figure takes a second). Returns the layout chosen: ``horizontal``,
    ``wrapped``, ``rotated45``, ``rotated90``, ``small`` or ``every<k>``."""
    fig = _root(ax)
    target = ax.xaxis if axis == "x" else ax.yaxis
    others = [a.xaxis if axis == "x" else a.yaxis for a in shared if a is not ax]
    locs = list(target.get_ticklocs())
    if names is None:
        names = [t.get_text() for t in target.get_ticklabels()]
    labels = display_names(names) if classes else [str(n) for n in names]
    if not locs:
        return "horizontal"
    target.set_ticks(locs, labels)
    if draw:
        fig.draw_without_rendering()  # the layout engine sizes the axes: measure them as drawn
    like = target.get_ticklabels()[0]
    fontsize = like.get_fontsize()
    spacing = _spacing(ax, axis, locs)
    sizes = [_size(fig, s, like, fontsize) for s in labels]
    width = max(w for w, _ in sizes)
    height = max(h for _, h in sizes)
    if axis == "y":
        chosen, size = "horizontal", fontsize
        while height + GAP > spacing and size > MIN_FONTSIZE:
            size = max(MIN_FONTSIZE, size - 0.5)
            height = max(_size(fig, s, like, size)[1] for s in labels)
            chosen = "small"
        step = 1 if height + GAP <= spacing else math.ceil((height + GAP) / spacing)
        _apply([target, *others], locs, labels, step, size, rotation=0, ha="right")
        return chosen if step == 1 else f"every{step}"
    if width + GAP <= spacing:
        _apply([target, *others], locs, labels, 1, fontsize, rotation=0, ha="center")
        return "horizontal"
    wrapped = [wrap_name(s) for s in labels] if classes else labels
    if (
        wrapped != labels
        and max(_size(fig, s, like, fontsize)[0] for s in wrapped) + GAP <= spacing
    ):
        _apply([target, *others], locs, wrapped, 1, fontsize, rotation=0, ha="center")
        return "wrapped"
    line = _size(fig, "Ag", like, fontsize)[1]  # one line's height
    if spacing * math.sin(math.radians(45)) >= line + GAP:
        _apply([target, *others], locs, labels, 1, fontsize, rotation=45, ha="right")
        return "rotated45"
    if spacing >= line + GAP:
        _apply([target, *others], locs, labels, 1, fontsize, rotation=90, ha="center")
        return "rotated90"
    size = fontsize
    while size > MIN_FONTSIZE and line + GAP > spacing:
        size = max(MIN_FONTSIZE, size - 0.5)
        line = _size(fig, "Ag", like, size)[1]
    step = 1 if line + GAP <= spacing else math.ceil((line + GAP) / spacing)
    _apply([target, *others], locs, labels, step, size, rotation=90, ha="center")
    return "small" if step == 1 else f"every{step}"


def _apply(targets, locs, labels, step: int, size: float, *, rotation: float, ha: str) -> None:
    for target in targets:
        target.set_ticks(locs[::step], labels[::step])
        plt.setp(
            target.get_ticklabels(),
            rotation=rotation,
            ha=ha,
            rotation_mode="anchor" if rotation not in (0, 90) else "default",
            fontsize=size,
        )


def fitting_legend(fig: plt.Figure, handles, labels, *, ncol: int, **kwargs):
    """``fig.legend`` with at most ``ncol`` columns, fewer until it fits the figure's width;
    labels are shown as :func:`display_name` writes them."""
    labels = display_names(labels)
    ncol = max(1, min(ncol, len(labels)))
    while True:
        legend = fig.legend(handles, labels, ncol=ncol, **kwargs)
        with warnings.catch_warnings():  # a tall legend may squeeze the panels to nothing
            warnings.filterwarnings("ignore", "constrained_layout not applied")
            fig.draw_without_rendering()
        if ncol == 1 or legend.get_window_extent().width <= fig.bbox.width * 0.98:
            return legend
        legend.remove()
        ncol -= 1


def fit_cell_texts(ax: plt.Axes, draw: bool = True) -> None:
    """Shorten the class name on the first line of each text written in a heatmap's cells
    (``→automobile`` over its share) until it fits the cell's width, ending it with ``.``
    (``→autom.``): the whole name where there is room, as much of it as there is.
    ``draw=False`` takes the cells' width as last drawn."""
    fig = _root(ax)
    if draw:
        fig.draw_without_rendering()
    columns = abs(ax.get_xlim()[1] - ax.get_xlim()[0])  # a heatmap's cells are 1 wide
    cell = ax.get_window_extent().width / columns * 72 / fig.dpi
    for text in ax.texts:
        first, *rest = text.get_text().split("\n")
        name = first
        while len(name) > 2 and _size(fig, name, text, text.get_fontsize())[0] + GAP > cell:
            first = first[:-1]
            name = first.rstrip() + "."
        text.set_text("\n".join([name, *rest]))


def keep_inside(fig: plt.Figure, pad: float = 0.03) -> None:
    """Shrink a constrained layout's rectangle until everything drawn lies inside the figure.

    The constrained layout misjudges the margin of square axes (``square=True`` heatmaps: the
    first column's axis label ended a few points left of the figure); this measures what was
    drawn and moves the layout in by what runs out, plus ``pad`` inches."""
    engine = fig.get_layout_engine()
    width, height = fig.get_size_inches()
    for attempt in range(4):
        fig.draw_without_rendering()  # it returns drawn: the layout is the one measured
        if attempt == 3:
            return
        box = fig.get_tightbbox()  # inches
        out = (
            max(0.0, pad - box.x0),
            max(0.0, pad - box.y0),
            max(0.0, box.x1 - width + pad),
            max(0.0, box.y1 - height + pad),
        )
        if not any(o > 1e-3 for o in out):
            return
        x, y, w, h = engine.get()["rect"]
        engine.set(
            rect=(
                x + out[0] / width,
                y + out[1] / height,
                w - (out[0] + out[2]) / width,
                h - (out[1] + out[3]) / height,
            )
        )


def grow_for_labels(fig: plt.Figure, axes: Sequence[plt.Axes], rows: int, room: float) -> float:
    """Make ``fig`` taller by what its x tick labels (measured on the last draw) need beyond
    ``room`` inches under each of its ``rows`` rows of panels, so that long names turned on
    their side (CIFAR-100's superclasses) do not squeeze the plot. Returns the inches added."""
    dpi = fig.dpi
    need = max(
        (t.get_window_extent().height / dpi for ax in axes for t in ax.get_xticklabels()),
        default=0.0,
    )
    extra = max(0.0, need - room) * rows
    if extra:
        fig.set_figheight(fig.get_figheight() + extra)
    return extra
