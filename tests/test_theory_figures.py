"""Tests for fairat.theory.figures: paper 001's theory figures and their captions."""

from __future__ import annotations

import docutils.core
import pandas as pd
import pytest
from PIL import Image

from fairat.theory import figures as tf
from fairat.theory.figure_data import figure_data

SMALL = {"n_train": 2_000, "n_test": 5_000, "n_trials": 3}


@pytest.mark.parametrize(
    ("kind", "x", "printed"),
    [("1b", [0.0, 0.1, 0.2], True), ("2b", [4, 8, 16], False)],
)
def test_plot_writes_png_and_pdf(tmp_path, kind, x, printed):
    df = figure_data(kind, include_paper_printed=printed, overrides={"x": x}, **SMALL)
    png, pdf = tmp_path / f"fig{kind}.png", tmp_path / f"fig{kind}.pdf"
    tf.plot_theory_figure(df, png, pdf)
    assert png.stat().st_size > 20_000
    with Image.open(png) as image:
        width, height = image.size
    assert width == pytest.approx(tf.COLUMN_WIDTH * 300, abs=2)  # one paper column at 300 dpi
    assert 0.6 < height / width < 1.2
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 5_000


def test_plot_rejects_two_figures(tmp_path):
    df = pd.concat([handmade("1a"), handmade("2a")])
    with pytest.raises(ValueError, match="one figure"):
        tf.plot_theory_figure(df, tmp_path / "x.png")


def handmade(kind: str = "2a", shift: dict | None = None) -> pd.DataFrame:
    """Closed form and simulation at three x; the simulation is closed + 0.5 SE everywhere except
    at the (x, training, cls) keys of ``shift``, where it is closed + shift * SE."""
    shift = shift or {}
    rows = []
    for x in (0.6, 0.8, 1.0):
        for training in ("standard", "mixup"):
            for cls, closed in ((1, 0.1 * x), (-1, 0.4 * x)):
                se = 0.004
                z = shift.get((x, training, cls), 0.5)
                common = {"figure": kind, "x_name": "|mu_pos + mu_neg|", "x": x}
                common |= {"training": training, "cls": cls, "risk_type": "adversarial"}
                rows.append({**common, "source": "closed_form", "risk": closed, "se": 0.0})
                rows.append({**common, "source": "simulation", "risk": closed + z * se, "se": se})
    return pd.DataFrame(rows)


def test_caption_agreement():
    caption = tf.theory_caption("2a", handmade())
    assert caption.startswith("Paper 001, Figure 2(a)")
    assert "disagree" not in caption
    assert "agree within 3 SE at all 12 points" in caption
    assert "0.50" in caption  # the largest |z|


def test_caption_disagreement():
    df = handmade(shift={(0.8, "mixup", -1): -5.0, (1.0, "standard", 1): 3.5})
    caption = tf.theory_caption("2a", df)
    assert "disagree by more than 3 SE at 2 of 12 points" in caption
    assert "largest absolute z-score 5.00" in caption
    assert "μ₊ + μ₋ = 0.8, mixup training, class −1" in caption


def test_z_scores_zero_se():
    df = handmade()
    df.loc[df["source"] == "simulation", "se"] = 0.0
    z = tf.z_scores(df)
    assert len(z) == 12 and (z["z"].abs() == float("inf")).all()
    assert "infinite" in tf.theory_caption("2a", df)


@pytest.mark.parametrize("kind", ["1a", "1b", "2a", "2b"])
def test_caption_is_valid_rst(kind):
    """The workflow report includes the caption file into reStructuredText."""
    df = figure_data(kind, simulate=False, include_paper_printed=True)
    sim = {"n_train": 1, "n_test": 1, "n_trials": 1}
    for caption in (tf.theory_caption(kind, df, sim), tf.theory_caption(kind, handmade(kind))):
        html = docutils.core.publish_parts(
            caption, writer="html", settings_overrides={"halt_level": 2}
        )["body"]
        assert "system-message" not in html and "Paper 001" in html
