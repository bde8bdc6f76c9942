"""Legibility checks on rendered figures, and the class names of real data sets to render with.

``drawn_texts`` draws a figure and keeps every text matplotlib actually rendered (tick labels
of ticks out of view are never drawn, so they are not kept); ``assert_legible`` asserts that no
two of them overlap and that none runs outside the figure. Overlap is tested on each text's
rotated rectangle (separating axes), not on its axis-aligned bounding box, so that labels
rotated by 45 degrees, which sit side by side but whose bounding boxes overlap, are judged as
a reader sees them.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

# torchvision's CIFAR10(...).classes and CIFAR100(...).classes (the datasets' meta files), in
# label order: the names an imagefolder copy of either data set carries as folder names
CIFAR10 = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CIFAR100 = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
]
assert len(CIFAR100) == 100 and len(set(CIFAR100)) == 100
# CIFAR-100's 20 superclasses (coarse labels), the longest names a figure meets
CIFAR100_COARSE = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
]
DIGITS = [str(i) for i in range(10)]  # the default run's scikit-learn digits
NAME_SETS = {"cifar10": CIFAR10, "cifar100": CIFAR100}

TOLERANCE = 0.5  # pixels (at the canvas's dpi) two texts may share, for rounding


def drawn_texts(fig) -> list[Text]:
    """Draw ``fig`` and return the texts it rendered: visible, not blank."""
    if not hasattr(fig.canvas, "get_renderer"):  # closed by pyplot: draw it with Agg again
        FigureCanvasAgg(fig)
    drawn: list[Text] = []
    draw = Text.draw

    def spy(self, renderer):
        draw(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)

    with mock.patch.object(Text, "draw", spy):
        fig.canvas.draw()
    return list(dict.fromkeys(drawn))


def corners(text: Text, renderer) -> np.ndarray:
    """The four corners (display pixels) of a text's rotated rectangle."""
    box = text.get_window_extent(renderer)  # axis-aligned box of the rotated text
    angle = text.get_rotation()
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)  # its width and height unrotated
    text.set_rotation(angle)
    t = math.radians(angle)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    local = np.array([[0, 0], [flat.width, 0], [flat.width, flat.height], [0, flat.height]])
    turned = local @ rot.T
    return turned - turned.min(axis=0) + [box.x0, box.y0]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two convex quadrilaterals share more than TOLERANCE pixels along every axis?"""
    for poly in (a, b):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            normal = np.array([-edge[1], edge[0]])
            length = np.hypot(*normal)
            if length == 0:
                continue
            pa, pb = a @ normal / length, b @ normal / length
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= TOLERANCE:
                return False  # a separating axis
    return True


def legibility_problems(fig) -> list[str]:
    """What a reader would stumble on: pairs of rendered texts that overlap, texts that run
    outside the figure, a figure legend over a panel or beyond the figure's width."""
    return _check(fig)[0]


def _check(fig) -> tuple[list[str], list[Text]]:
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    quads = [corners(t, renderer) for t in texts]
    problems = []
    width, height = fig.bbox.width, fig.bbox.height
    for t, q in zip(texts, quads, strict=True):
        lo, hi = q.min(axis=0), q.max(axis=0)
        if (lo < -TOLERANCE).any() or (hi > np.array([width, height]) + TOLERANCE).any():
            problems.append(f"{t.get_text()!r} runs outside the figure ({lo}, {hi})")
    for legend in fig.legends:  # a figure's own legend sits beside its panels, not on them
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison and box.overlaps(ax.get_window_extent(renderer)):
                problems.append(f"the legend {legend.get_title().get_text()!r} covers a panel")
        if box.x0 < -TOLERANCE or box.x1 > width + TOLERANCE:
            problems.append(f"the legend {legend.get_title().get_text()!r} runs outside")
    lows = np.array([q.min(axis=0) for q in quads]).reshape(-1, 2)
    highs = np.array([q.max(axis=0) for q in quads]).reshape(-1, 2)
    for i in range(len(texts)):
        near = np.nonzero(
            (lows[i + 1 :] < highs[i] - TOLERANCE).all(axis=1)
            & (highs[i + 1 :] > lows[i] + TOLERANCE).all(axis=1)
        )[0]
        for j in near + i + 1:
            if _overlap(quads[i], quads[j]):
                problems.append(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    return problems, texts


def assert_legible(fig, expect: list[str] | None = None) -> list[Text]:
    """No two rendered texts overlap and none runs outside the figure; with ``expect``, each of
    those strings is among the rendered texts (so a figure cannot pass by drawing no labels)."""
    problems, texts = _check(fig)
    assert not problems, f"{len(problems)} problems, e.g. " + "; ".join(problems[:8])
    if expect is not None:
        shown = {" ".join(t.get_text().split()) for t in texts}
        missing = [e for e in expect if e not in shown]
        assert not missing, f"not shown: {missing[:10]}"
    return texts
