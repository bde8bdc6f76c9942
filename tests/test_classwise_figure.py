"""The per-class robust accuracy figure: its kind follows the run and class counts, and each kind
writes a real PNG and PDF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairat.reporting.classwise import CLASSWISE_COLUMNS
from fairat.reporting.figures import classwise_kind, plot_classwise_robust


def frame(n_runs: int, n_classes: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        ["d", "m", f"run{r}", "trades", "8/255", s, "last", a, str(c), rng.uniform(), 10, "fp32"]
        for r in range(n_runs)
        for s in (0, 1)
        for a in ("clean", "worst_case")
        for c in range(n_classes)
    ]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


@pytest.mark.parametrize(
    ("runs", "classes", "kind"),
    [
        (3, 10, "bars"),
        (4, 10, "bars"),
        (5, 10, "heatmap"),
        (13, 10, "heatmap"),
        (13, 20, "heatmap"),
        (2, 100, "distribution"),
        (13, 200, "distribution"),
    ],
)
def test_the_figure_kind_follows_the_counts(runs, classes, kind):
    assert classwise_kind(runs, classes) == kind


@pytest.mark.parametrize(("runs", "classes"), [(3, 10), (13, 10), (4, 100)])
def test_each_kind_writes_a_png_and_a_pdf(tmp_path, runs, classes):
    png, pdf = tmp_path / "f.png", tmp_path / "f.pdf"
    assert plot_classwise_robust(frame(runs, classes), [png, pdf]) == "worst_case"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
