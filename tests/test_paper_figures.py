"""Paper figures from hand-made frames: each writes a non-trivial PNG and PDF."""

from __future__ import annotations

import pandas as pd
import pytest

from fairat.reporting.classwise import CLASSWISE_COLUMNS
from fairat.reporting.paper_epochs import history_classes, plot_epochs, read_histories
from fairat.reporting.paper_eps import plot_eps
from fairat.reporting.paper_figures import (
    KINDS,
    figure_keys,
    figure_paths,
    figure_stem,
    write_figures,
)
from fairat.reporting.paper_heatmap import plot_heatmap
from fairat.reporting.paper_tradeoff import plot_tradeoff

CLASSES = ["cat", "dog", "ship"]
METHODS = ["trades", "fair", "natural"]


def classwise() -> pd.DataFrame:
    rows = []
    for e, eps in enumerate(["8/255", "16/255"]):
        for m, method in enumerate(METHODS):
            for seed in (0, 1):
                for attack in ("clean", "worst_case"):
                    for c, name in enumerate(CLASSES):
                        acc = 0.9 - 0.1 * c - (0.3 + 0.2 * e + 0.05 * m if attack != "clean" else 0)
                        acc += 0.02 * seed
                        ident = ["toy", "m", method, method, eps, seed, "last"]
                        rows.append([*ident, attack, name, acc, 10, "fp32"])
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def histories() -> pd.DataFrame:
    rows = []
    for method in METHODS:
        for seed in (0, 1):
            for epoch in (1, 2, 3):
                row = {
                    "dataset": "toy",
                    "model": "m",
                    "run": method,
                    "method": method,
                    "eps": "8/255",
                }
                row.update(seed=seed, epoch=epoch, val_robust_avg=0.5, val_robust_worst=0.2)
                row.update(
                    {f"val_robust_{c}": 0.1 * epoch + 0.1 * i for i, c in enumerate(CLASSES)}
                )
                rows.append(row)
    return pd.DataFrame(rows)


def assert_written(paths):
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000


def outs(tmp_path, stem):
    return [tmp_path / f"{stem}.png", tmp_path / f"{stem}.pdf"]


def test_heatmap(tmp_path):
    paths = outs(tmp_path, "heat")
    plot_heatmap(classwise(), "toy", "m", "8/255", "last", paths)
    assert_written(paths)


def test_eps_lines(tmp_path):
    paths = outs(tmp_path, "eps")
    plot_eps(classwise(), "toy", "m", "last", paths)
    assert_written(paths)


def test_eps_lines_with_one_eps(tmp_path):
    df = classwise()
    paths = outs(tmp_path, "eps1")
    plot_eps(df[df["eps"] == "8/255"], "toy", "m", "last", paths)
    assert_written(paths)


def test_tradeoff(tmp_path):
    paths = outs(tmp_path, "tradeoff")
    plot_tradeoff(classwise(), "toy", "m", "16/255", "last", paths)
    assert_written(paths)


def test_epochs(tmp_path):
    paths = outs(tmp_path, "epochs")
    plot_epochs(histories(), "toy", "m", "8/255", paths)
    assert_written(paths)


def test_read_histories_tags_each_run(tmp_path):
    h = histories()
    columns = [
        c for c in h.columns if c not in ("dataset", "model", "run", "method", "eps", "seed")
    ]
    files, runs = [], []
    for (method, seed), block in h.groupby(["run", "seed"]):
        path = tmp_path / f"{method}{seed}.csv"
        block[columns].to_csv(path, index=False)
        files.append(path)
        runs.append(
            {
                "dataset": "toy",
                "model": "m",
                "run": method,
                "method": method,
                "eps": "8/255",
                "seed": seed,
            }
        )
    read = read_histories(files, runs)
    assert len(read) == len(h) and set(read["run"]) == set(METHODS)
    assert history_classes(list(read.columns)) == CLASSES


def test_write_figures_by_stem(tmp_path):
    cw, h = classwise(), histories()
    keys = figure_keys(cw, h)
    assert figure_stem("heatmap", "toy", "m", "8/255", "last") == "heatmap_toy_m_eps8_255_last"
    assert sorted(keys) == sorted(
        [
            *(
                f"{k}_toy_m_eps{e}_last"
                for k in ("heatmap", "tradeoff")
                for e in ("8_255", "16_255")
            ),
            "eps_toy_m_last",
            "epochs_toy_m_eps8_255",
        ]
    )
    paths = [tmp_path / f"{stem}.{fmt}" for stem in keys for fmt in ("png", "pdf")]
    assert sorted(write_figures(cw, h, paths)) == sorted(keys)
    assert all(p.stat().st_size > 5_000 for p in paths)
    with pytest.raises(ValueError, match="no data for figures"):
        write_figures(cw, None, [tmp_path / "epochs_toy_m_eps8_255.png"])


def test_workflow_paths_match_the_figures_the_data_allow():
    """paper.smk lists figure_paths from the config; write_figures must know every stem."""
    cw, h = classwise(), histories()
    runs = [("toy", "m", "8/255"), ("toy", "m", "16/255"), ("toy", "m", "8/255")]
    paths = [p for kind in KINDS for p in figure_paths(kind, "out", runs, ["last"])]
    assert len(paths) == len(set(paths)) == 2 * (2 + 2 + 1 + 2)
    stems = {p.rsplit("/", 1)[1].rsplit(".", 1)[0] for p in paths}
    epochs16 = "epochs_toy_m_eps16_255"  # the hand-made histories have 8/255 only
    assert stems - {epochs16} == set(figure_keys(cw, h))
    with pytest.raises(ValueError, match="unknown figure kind"):
        figure_paths("violin", "out", runs, ["last"])
