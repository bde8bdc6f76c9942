"""The per-epoch method-state figure: a class keeps its colour in every panel, the classes have one
legend for the whole figure, and run-level state keeps a legend of its own."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pandas as pd

import fairat.reporting.figures as figures


def draw(monkeypatch, state: pd.DataFrame, class_names: list[str]):
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, paths: drawn.append(fig))
    figures.plot_method_state(state, class_names, ["unused.png"], "a run")
    (fig,) = drawn
    return fig


def test_one_class_legend_and_one_colour_per_class(monkeypatch):
    names = ["cat", "dog", "ship"]
    state = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            # columns in another order in each panel: the colour follows the class, not the column
            **{f"weight_{c}": [1.0, 2.0, 3.0] for c in names},
            **{f"radius_{c}": [0.1, 0.2, 0.3] for c in reversed(names)},
            "calibrated": [0, 1, 1],
        }
    )
    fig = draw(monkeypatch, state, names)
    weight, radius, scalar = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == ["weight", "radius", "value"]
    colour = {}
    for ax, order in ((weight, names), (radius, list(reversed(names)))):
        assert ax.get_legend() is None  # the classes are in the figure's legend
        for name, line in zip(order, ax.get_lines(), strict=True):
            colour.setdefault(name, mcolors.to_hex(line.get_color()))
            assert mcolors.to_hex(line.get_color()) == colour[name], name
    assert len(set(colour.values())) == 3
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == names
    assert legend.get_title().get_text() == "class"
    assert [t.get_text() for t in scalar.get_legend().get_texts()] == ["calibrated"]


def test_no_class_legend_without_class_state(monkeypatch):
    state = pd.DataFrame({"epoch": [1, 2], "calibrated": [0, 1], "fawa_used": [0, 0]})
    fig = draw(monkeypatch, state, ["a", "b"])
    assert fig.legends == []
    assert len(fig.axes) == 1
