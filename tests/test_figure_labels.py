"""Every figure that writes class names keeps them legible for the default run's digits and for
CIFAR-10's and CIFAR-100's real names: drawn, no two texts overlap, none runs outside the
figure, a figure legend covers no panel, and the class names are there to read (not dropped to
make room). tests/figure_checks.py measures the rendered texts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from figure_checks import (  # noqa: E402
    CIFAR10,
    CIFAR100,
    CIFAR100_COARSE,
    DIGITS,
    assert_legible,
    legibility_problems,
)

import fairat.reporting.confusion_figures as confusion_figures  # noqa: E402
import fairat.reporting.figures as figures  # noqa: E402
import fairat.reporting.paper_epochs as paper_epochs  # noqa: E402
import fairat.reporting.paper_heatmap as paper_heatmap  # noqa: E402
from fairat.reporting.class_labels import display_name, fit_class_ticks, wrap_name  # noqa: E402
from fairat.reporting.classwise import CLASSWISE_COLUMNS  # noqa: E402

METHODS = ["natural", "pgd_at", "trades", "trades_dafa", "label_aug_at", "frl_rwrm", "cfa"]
NAMES = {"digits": DIGITS, "cifar10": CIFAR10, "cifar100": CIFAR100}
SHOWN = {k: [display_name(c) for c in v] for k, v in NAMES.items()}
# the 20 superclasses, the longest names: in the figure whose height grows for them
NAMES_WITH_COARSE = {**NAMES, "cifar100_coarse": CIFAR100_COARSE}
SHOWN["cifar100_coarse"] = [display_name(c) for c in CIFAR100_COARSE]


def classwise(names: list[str], runs: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        ["d", "m", run, run, "8/255", seed, "last", attack, c, rng.uniform(), 10, "fp32"]
        for run in runs
        for seed in (0, 1)
        for attack in ("clean", "worst_case")
        for c in names
    ]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def histories(names: list[str], runs: list[str]) -> pd.DataFrame:
    rows = []
    for run in runs:
        for epoch in (1, 2, 3):
            row = {"dataset": "d", "model": "m", "run": run, "method": run, "eps": "8/255"}
            row.update(seed=0, epoch=epoch, val_robust_avg=0.5, val_robust_worst=0.2)
            row.update({f"val_robust_{c}": 0.1 * epoch + 0.001 * i for i, c in enumerate(names)})
            rows.append(row)
    return pd.DataFrame(rows)


def confusion(names: list[str], runs: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    k, rows = len(names), []
    for run in runs:
        counts = rng.integers(0, 5, (k, k)) + np.eye(k, dtype=int) * 20
        for i in range(k):
            for j in range(k):
                rows.append(
                    {
                        **{"dataset": "d", "model": "m", "run": run, "method": run},
                        **{"eps": "8/255", "seed": 0, "checkpoint": "last"},
                        "attack": "worst_case",
                        "true_class": names[i],
                        "predicted_class": names[j],
                        "count": int(counts[i, j]),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plotting functions would save, kept instead of written."""
    kept: list[plt.Figure] = []

    def keep(fig, *args, **kwargs):
        kept.append(fig)

    monkeypatch.setattr(figures, "save_figure", keep)
    monkeypatch.setattr(confusion_figures, "save_figure", keep)
    monkeypatch.setattr(paper_heatmap, "_save", keep)
    monkeypatch.setattr(paper_epochs, "_save", keep)
    yield kept
    plt.close("all")


@pytest.mark.parametrize("names", [*NAMES, "cifar100_coarse"])
@pytest.mark.parametrize(("kind", "runs"), [("bars", 3), ("heatmap", 6)])
def test_classwise_robust(drawn, names, kind, runs):
    classes = NAMES_WITH_COARSE[names]
    assert figures.classwise_kind(runs, len(classes)) == (
        kind if names != "cifar100" else "distribution"
    )
    figures.plot_classwise_robust(classwise(classes, METHODS[:runs]), ["f.png"])
    (fig,) = drawn
    # CIFAR-100's 100 classes are drawn as distributions: no class names, the runs on the axis
    assert_legible(fig, SHOWN[names] if names != "cifar100" else METHODS[:runs])


@pytest.mark.parametrize("names", [*NAMES, "cifar100_coarse"])
@pytest.mark.parametrize("runs", [3])
def test_paper_heatmap(drawn, names, runs):
    frame = classwise(NAMES_WITH_COARSE[names], METHODS[:runs])
    paper_heatmap.plot_heatmap(frame, "d", "m", "8/255", "last", ["h.png"])
    (fig,) = drawn
    assert_legible(fig, SHOWN[names] + METHODS[:runs])  # every class named, also CIFAR-100's


@pytest.mark.parametrize("names", [*NAMES, "cifar100_coarse"])
@pytest.mark.parametrize("runs", [2, 5])
def test_paper_epochs_legend(drawn, names, runs):
    frame = histories(NAMES_WITH_COARSE[names], METHODS[:runs])
    paper_epochs.plot_epochs(frame, "d", "m", "8/255", ["e"])
    (fig,) = drawn
    # up to 20 classes a legend names them; CIFAR-100's 100 lines go without one
    assert_legible(fig, SHOWN[names] if names != "cifar100" else METHODS[:runs])


@pytest.mark.parametrize("names", [*NAMES, "cifar100_coarse"])
def test_confusion_figure(drawn, monkeypatch, names):
    monkeypatch.setattr(confusion_figures, "MAX_COLUMNS", 2)  # two rows that share their axes
    confusion_figures.plot_confusion_block(
        confusion(NAMES_WITH_COARSE[names], METHODS[:3]),
        ["c.png"],
        attack="worst_case",
        title="d / m",
    )
    (fig,) = drawn
    texts = assert_legible(fig, SHOWN[names] if names != "cifar100" else ["0", "20", "80"])
    if names == "cifar10":  # the lost-to cells name whole classes where they fit
        assert any(t.get_text().startswith("→automobile") for t in texts)


@pytest.mark.parametrize("names", list(NAMES))
def test_method_state_legend(drawn, names):
    classes = NAMES[names]
    state = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            **{f"weight_{c}": [1.0, 2.0, 3.0] for c in classes},
            **{f"radius_{c}": [0.1, 0.2, 0.3] for c in classes},
            "calibrated": [0, 1, 1],
        }
    )
    figures.plot_method_state(state, classes, ["s.png"], "d / m / eps 8/255 / cfa / seed 0")
    (fig,) = drawn
    assert [ax.get_ylabel() for ax in fig.axes] == ["weight", "radius", "value"]
    assert_legible(fig, SHOWN[names] if names != "cifar100" else ["calibrated"])


def test_state_columns_take_the_longest_class_name():
    groups = figures.state_groups(
        ["weight_pickup_truck", "weight_truck"], ["truck", "pickup_truck"]
    )
    assert groups == {"weight": ["weight_pickup_truck", "weight_truck"]}


# the helper and the check themselves ------------------------------------------------------------


def test_names_are_written_with_spaces_and_wrapped_where_the_lines_are_shortest():
    assert display_name("aquarium_fish") == "aquarium fish"
    assert wrap_name("aquarium fish") == "aquarium\nfish"
    assert wrap_name("large man-made outdoor things") == "large man-made\noutdoor things"
    assert wrap_name("automobile") == "automobile"


def _axis(names: list[str], width: float) -> plt.Axes:
    fig, ax = plt.subplots(figsize=(width, 2.0), layout="constrained")
    ax.bar(range(len(names)), 1)
    ax.set_xticks(range(len(names)), names)
    return ax


@pytest.mark.parametrize(
    ("names", "width", "layout"),
    [
        (DIGITS, 4.8, "horizontal"),  # the default run's figures keep their look
        (["aquarium_fish", "maple_tree", "sweet_pepper"], 3.0, "wrapped"),
        (CIFAR10, 4.8, "rotated45"),
        (CIFAR100[:20], 4.8, "rotated90"),
        (CIFAR100[:40], 4.8, "small"),
        (CIFAR100, 4.8, "every3"),
    ],
)
def test_the_layout_follows_the_space_per_name(names, width, layout):
    ax = _axis(names, width)
    assert fit_class_ticks(ax, "x") == layout
    shown = len(names) if not layout.startswith("every") else len(names[:: int(layout[5:])])
    assert len(assert_legible(ax.figure)) >= shown
    plt.close(ax.figure)


def test_the_check_sees_names_that_run_into_each_other_and_out_of_the_figure():
    ax = _axis(CIFAR10, 4.8)  # as matplotlib sets them: horizontal, 0.4 inch apart
    problems = legibility_problems(ax.figure)
    assert "'airplane' overlaps 'automobile'" in problems
    ax.figure.text(-0.05, 0.5, "far to the left")
    assert any("'far to the left' runs outside" in p for p in legibility_problems(ax.figure))
    plt.close(ax.figure)


def test_the_check_measures_turned_labels_as_turned():
    """Neighbouring labels at 45 degrees: their axis-aligned boxes overlap, the labels do not;
    pushed closer together, they do."""
    ax = _axis(CIFAR10, 4.8)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    assert legibility_problems(ax.figure) == []
    ax.figure.set_size_inches(1.2, 2.0)
    assert any("overlaps" in p for p in legibility_problems(ax.figure))
    plt.close(ax.figure)
