"""Paper tables on a hand-made classwise frame: rows, numbers computed by hand, bold cells."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from helpers import squeeze

from fairat.reporting.classwise import CLASSWISE_COLUMNS
from fairat.reporting.paper_tables import (
    error_stats,
    formatted,
    paper_tables,
    per_class,
    table1,
    to_csv,
    to_latex,
    to_markdown,
    trix_table,
)

CLASSES = ["a", "b", "c"]
# accuracy of classes a, b, c per (method, seed, attack) at eps 8/255. pgd10 is above
# worst_case, so that a table that took it instead of worst_case would show other numbers.
ACC = {
    ("trades", 0, "clean"): [0.9, 0.8, 0.7],
    ("trades", 1, "clean"): [1.0, 0.8, 0.6],
    ("trades", 0, "worst_case"): [0.6, 0.4, 0.2],
    ("trades", 1, "worst_case"): [0.6, 0.5, 0.1],
    ("fair", 0, "clean"): [0.8, 0.8, 0.8],
    ("fair", 1, "clean"): [0.9, 0.6, 0.6],
    ("fair", 0, "worst_case"): [0.5, 0.4, 0.3],
    ("fair", 1, "worst_case"): [0.5, 0.5, 0.5],
}


def classwise() -> pd.DataFrame:
    """Two methods, two seeds, three classes, two eps (16/255 at half the
    accuracy of 8/255), attacks clean, pgd10 and worst_case, checkpoint last."""
    rows = []
    for eps, scale in (("8/255", 1.0), ("16/255", 0.5)):
        for (method, seed, attack), accs in ACC.items():
            attacks = [attack] if attack == "clean" else ["pgd10", "worst_case"]
            for a in attacks:
                for name, acc in zip(CLASSES, accs, strict=True):
                    value = acc * scale + (0.05 if a == "pgd10" else 0.0)
                    ident = ["toy", "m", method, method, eps, seed, "last"]
                    rows.append([*ident, a, name, value, 10, "fp32"])
    df = pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)
    order = {"clean": 0, "pgd10": 1, "worst_case": 2}  # a realistic row order
    return df.sort_values(
        ["eps", "run", "seed", "attack"], key=lambda s: s.map(order) if s.name == "attack" else s
    ).reset_index(drop=True)


def block_lines(markdown: str, heading: str) -> list[str]:
    """The table lines under a ``## heading`` of a Markdown document."""
    part = squeeze(markdown).split(f"## {heading}")[1].split("\n## ")[0]
    return [line for line in part.splitlines() if line.startswith("|")]


def latex_rows(latex: str, label: str) -> list[str]:
    part = latex.split(f"\\label{{{label}}}")[1].split("\\bottomrule")[0]
    return part.split("\\midrule\n")[1].strip().splitlines()


HEAD = "toy / m / eps 8/255 / checkpoint last (2 seeds)"


def test_trix_numbers_rows_and_bold():
    table = trix_table(classwise())
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    assert list(first.index) == ["fair", "trades"]  # order of appearance
    # clean: trades avg .8, .8; worst .7, .6. fair avg .8, .7; worst .8, .6
    assert first.loc["trades", "clean_avg"] == pytest.approx(0.8)
    assert first.loc["trades", "clean_worst"] == pytest.approx(0.65)
    assert first.loc["trades", "clean_worst_std"] == pytest.approx(np.std([0.7, 0.6], ddof=1))
    assert first.loc["fair", "clean_avg"] == pytest.approx(0.75)
    assert first.loc["fair", "clean_worst"] == pytest.approx(0.7)
    # worst_case (not pgd10): trades avg .4, .4; worst .2, .1. fair avg .4, .5; worst .3, .5
    assert first.loc["trades", "robust_avg"] == pytest.approx(0.4)
    assert first.loc["trades", "robust_worst"] == pytest.approx(0.15)
    assert first.loc["fair", "robust_avg"] == pytest.approx(0.45)
    assert first.loc["fair", "robust_worst"] == pytest.approx(0.4)
    assert first.loc["fair", "robust_worst_std"] == pytest.approx(np.std([0.3, 0.5], ddof=1))
    rho_nat = (0.7 - 0.65) / 0.65 + (0.75 - 0.8) / 0.8
    rho_rob = (0.4 - 0.15) / 0.15 + (0.45 - 0.4) / 0.4
    assert first.loc["fair", "rho_nat"] == pytest.approx(rho_nat)
    assert first.loc["fair", "rho_rob"] == pytest.approx(rho_rob)
    assert first.loc["trades", "rho_nat"] == 0 and first.loc["trades", "rho_rob"] == 0
    assert (first["seeds"] == 2).all()

    lines = block_lines(to_markdown(table), HEAD)
    assert lines[0] == (
        "| run | clean avg | clean worst | robust avg | robust worst | rho_nat | rho_rob |"
    )
    assert lines[2] == (
        "| fair | 75.00 ± 7.07 | **70.00 ± 14.14** | **45.00 ± 7.07** | **40.00 ± 14.14** "
        "| **0.01** | **1.79** |"
    )
    assert lines[3] == (
        "| trades | **80.00 ± 0.00** | 65.00 ± 7.07 | 40.00 ± 0.00 | 15.00 ± 7.07 | 0.00 | 0.00 |"
    )
    rows = latex_rows(to_latex(table), "tab:trix-toy-m-eps8-255-last")
    assert rows == [
        r"fair & 75.00 $\pm$ 7.07 & \textbf{70.00 $\pm$ 14.14} & \textbf{45.00 $\pm$ 7.07} & "
        r"\textbf{40.00 $\pm$ 14.14} & \textbf{0.01} & \textbf{1.79} \\",
        r"trades & \textbf{80.00 $\pm$ 0.00} & 65.00 $\pm$ 7.07 & 40.00 $\pm$ 0.00 & "
        r"15.00 $\pm$ 7.07 & 0.00 & 0.00 \\",
    ]


def test_table1_risk_statistics():
    table = table1(classwise())
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    # worst_case risks per seed: trades (.4 .6 .8), (.4 .5 .9); fair (.5 .6 .7), (.5 .5 .5)
    trades_std = (np.std([0.4, 0.6, 0.8]) + np.std([0.4, 0.5, 0.9])) / 2
    fair_std = (np.std([0.5, 0.6, 0.7]) + np.std([0.5, 0.5, 0.5])) / 2
    expected = {
        "trades": (0.6, trades_std, 0.4, (0.8 + 0.9) / 2),
        "fair": ((0.6 + 0.5) / 2, fair_std, 0.5, (0.7 + 0.5) / 2),
    }
    for method, values in expected.items():
        got = first.loc[method, ["risk_avg", "risk_std", "risk_min", "risk_max"]]
        assert list(got) == pytest.approx(list(values))
    lines = block_lines(to_markdown(table), HEAD)
    assert lines[0] == "| run | avg | std | min | max |"
    # lowest is best in every column
    assert lines[2] == "| fair | **55.00** | **4.08** | 50.00 | **60.00** |"
    assert lines[3] == "| trades | 60.00 | 18.97 | **40.00** | 85.00 |"
    rows = latex_rows(to_latex(table), "tab:table1-toy-m-eps8-255-last")
    assert rows[0] == r"fair & \textbf{55.00} & \textbf{4.08} & 50.00 & \textbf{60.00} \\"
    assert rows[1] == r"trades & 60.00 & 18.97 & \textbf{40.00} & 85.00 \\"


def test_error_stats_clean_and_adversarial():
    table = error_stats(classwise())
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    # clean errors per seed: trades (.1 .2 .3), (0 .2 .4); fair (.2 .2 .2), (.1 .4 .4)
    assert first.loc["trades", "clean_mean"] == pytest.approx(0.2)
    assert first.loc["trades", "clean_std"] == pytest.approx(
        (np.std([0.1, 0.2, 0.3]) + np.std([0.0, 0.2, 0.4])) / 2
    )
    assert first.loc["fair", "clean_mean"] == pytest.approx(0.25)
    assert first.loc["fair", "clean_std"] == pytest.approx(np.std([0.1, 0.4, 0.4]) / 2)
    assert first.loc["fair", "adv_mean"] == pytest.approx(0.55)
    assert first.loc["trades", "adv_std"] == pytest.approx(
        (np.std([0.4, 0.6, 0.8]) + np.std([0.4, 0.5, 0.9])) / 2
    )
    lines = block_lines(to_markdown(table), HEAD)
    # two eps in the frame: the header names the run's eps, each block's heading says which
    assert lines[0] == (
        "| run | clean mean | clean std | worst_case at eps mean | worst_case at eps std |"
    )
    assert lines[2] == "| fair | 25.00 | **7.07** | **55.00** | **4.08** |"
    assert lines[3] == "| trades | **20.00** | 12.25 | 60.00 | 18.97 |"
    rows = latex_rows(to_latex(table), "tab:error-stats-toy-m-eps8-255-last")
    assert rows[0] == r"fair & 25.00 & \textbf{7.07} & \textbf{55.00} & \textbf{4.08} \\"
    assert rows[1] == r"trades & \textbf{20.00} & 12.25 & 60.00 & 18.97 \\"


def test_error_stats_use_paper_003s_pgd40_when_the_suite_ran_it():
    assert "(paper 003 uses PGD-40)" in error_stats(classwise()).note
    df = classwise()
    df["attack"] = df["attack"].replace({"pgd10": "pgd40"})  # worst_case + 0.05 per class
    table = error_stats(df)
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    assert first.loc["fair", "adv_mean"] == pytest.approx(0.50)  # 0.55 under worst_case
    assert first.loc["fair", "clean_mean"] == pytest.approx(0.25)
    assert "`pgd40`" in table.note and "paper 003 uses" not in table.note
    assert "which this suite did not run (add `pgd40@2/255`" in table.note
    lines = block_lines(to_markdown(table), HEAD)
    assert lines[0] == "| run | clean mean | clean std | pgd40 at eps mean | pgd40 at eps std |"


def paper_003_frame() -> pd.DataFrame:
    """One eps (8/255): clean, pgd40 at the run's eps (worst_case + 0.05 per class) and
    pgd40@2/255 (at the paper's radius: clean accuracy - 0.1 per class, a made-up number
    between the two)."""
    df = classwise()
    df = df[df["eps"] == "8/255"].copy()
    df["attack"] = df["attack"].replace({"pgd10": "pgd40"})
    paper = df[df["attack"] == "clean"].copy()
    paper["attack"] = "pgd40@2/255"
    paper["accuracy"] -= 0.1
    return pd.concat([df, paper], ignore_index=True)


def test_error_stats_name_the_radius_of_every_adversarial_column():
    """Paper 003's PGD-40 at its own radius (pgd40@2/255) beside the runs' 8/255: two more
    columns, and every adversarial header says its radius (issue 27, part 4)."""
    table = error_stats(paper_003_frame())
    first = table.data.set_index("run")
    assert first.loc["fair", "adv_mean"] == pytest.approx(0.50)  # pgd40 at 8/255
    assert first.loc["fair", "radius_mean"] == pytest.approx(0.35)  # clean error .25 + .1
    assert first.loc["trades", "radius_std"] == pytest.approx(first.loc["trades", "clean_std"])
    lines = block_lines(to_markdown(table), HEAD)
    assert lines[0] == (
        "| run | clean mean | clean std | pgd40 at 8/255 mean | pgd40 at 8/255 std "
        "| pgd40 at 2/255 mean | pgd40 at 2/255 std |"
    )
    assert "`pgd40` runs at the runs' own eps (8/255" in table.note
    assert "`pgd40@2/255` at 2/255: paper 003's radius" in table.note
    assert "0.03 std = 0.0073-0.0078 per channel" in table.note and "eps/3" in table.note
    assert "did not run" not in table.note
    # without the paper-radius attack, no such columns (not empty ones)
    only = error_stats(paper_003_frame().query("attack != 'pgd40@2/255'"))
    assert "radius_mean" not in only.data and "2/255 mean" not in to_markdown(only)


def test_per_class_robust_accuracy():
    table = per_class(classwise())
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    assert list(first.loc["trades", CLASSES]) == pytest.approx([0.6, 0.45, 0.15])
    assert list(first.loc["fair", CLASSES]) == pytest.approx([0.5, 0.45, 0.4])
    lines = block_lines(to_markdown(table), HEAD)
    assert lines[0] == "| run | a | b | c |"
    assert lines[2] == "| fair | 50.00 | **45.00** | **40.00** |"  # a tie is bold in both rows
    assert lines[3] == "| trades | **60.00** | **45.00** | 15.00 |"
    rows = latex_rows(to_latex(table), "tab:per-class-toy-m-eps8-255-last")
    assert rows[0] == r"fair & 50.00 & \textbf{45.00} & \textbf{40.00} \\"


def test_one_block_per_dataset_model_eps_checkpoint_and_csv():
    tables = paper_tables(classwise())
    assert list(tables) == ["trix", "table1", "error_stats", "per_class"]
    for table in tables.values():
        assert list(table.blocks()) == [
            ("toy", "m", "16/255", "last"),
            ("toy", "m", "8/255", "last"),
        ]
        markdown = to_markdown(table)
        assert markdown.count("\n## ") == 2
        assert to_latex(table).count("\\begin{tabular}") == 2
        assert "\\toprule" in to_latex(table)
        csv = pd.read_csv(io.StringIO(to_csv(table)), dtype={"eps": str})
        assert list(csv.columns[:6]) == ["dataset", "model", "eps", "checkpoint", "run", "seeds"]
        assert len(csv) == 4
    # 16/255 has half the accuracy of 8/255: the per-class table scales with it
    pc = tables["per_class"].data.set_index(["eps", "run"])
    assert pc.loc[("16/255", "trades"), "a"] == pytest.approx(0.3)


def test_without_trades_rho_is_a_dash_and_empty_classes_are_left_out():
    df = classwise()
    df = df[df["run"] != "trades"].copy()
    df.loc[df["class"] == "c", ["accuracy", "n"]] = [np.nan, 0]
    trix = trix_table(df)
    cells, bold = formatted(trix, trix.blocks()[("toy", "m", "8/255", "last")])
    assert list(cells["rho_nat"]) == ["–"] and not bold["rho_nat"].any()
    assert "$-$" not in to_latex(trix)
    # class c has no sample: left out of the statistics, a dash in the per-class table
    first = table1(df).data.set_index("eps").loc["8/255"]
    assert first["risk_avg"] == pytest.approx(((0.5 + 0.6) / 2 + 0.5) / 2)
    cells, bold = formatted(per_class(df), per_class(df).blocks()[("toy", "m", "8/255", "last")])
    assert list(cells.columns) == ["run", "a", "b"]


def test_negative_numbers_get_a_latex_minus():
    df = classwise()
    df.loc[(df["run"] == "fair") & (df["attack"] == "worst_case"), "accuracy"] = 0.05
    rho_rob = (0.05 - 0.15) / 0.15 + (0.05 - 0.4) / 0.4  # -1.54
    latex = to_latex(trix_table(df))
    assert f"$-${-rho_rob:.2f}" in latex and "--1" not in latex
    assert f"| {rho_rob:.2f} |" in squeeze(to_markdown(trix_table(df)))


def test_table1_uses_fgsm_the_attack_of_paper_000_when_the_suite_has_it():
    df = classwise()
    fgsm = df[df["attack"] == "worst_case"].assign(attack="fgsm")
    fgsm["accuracy"] = 0.75  # every class: risk 0.25
    table = table1(pd.concat([df, fgsm], ignore_index=True))
    first = table.data[table.data["eps"] == "8/255"].set_index("run")
    assert list(first.loc["trades", ["risk_avg", "risk_min", "risk_max"]]) == pytest.approx(
        [0.25, 0.25, 0.25]
    )
    assert "under `fgsm`" in table.note
