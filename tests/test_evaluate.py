"""Evaluation: flags to class-wise metrics on hand-made examples, the attack suite, the tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from fairat.data import to_float
from fairat.eps import eps_tag, format_eps, parse_eps
from fairat.evaluate import check_attack_name, evaluate_checkpoint, evaluate_model
from fairat.metrics import attack_report, per_class_accuracy, summarize
from fairat.tables import (
    CLASSWISE_COLUMNS,
    classwise_rows,
    summary_latex,
    summary_markdown,
    summary_table,
)
from fairat.train import train


def test_per_class_accuracy_uses_true_class_counts():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    flags = np.array([1, 1, 1, 0, 0, 1, 0], dtype=bool)
    acc, n = per_class_accuracy(flags, labels, 4)
    assert n.tolist() == [4, 2, 1, 0]
    assert acc[:3].tolist() == [0.75, 0.5, 0.0]
    assert np.isnan(acc[3])  # absent class, not 0 and not N/K
    s = summarize(acc, ["a", "b", "c", "d"])
    assert s == pytest.approx(
        {
            "average": 1.25 / 3,
            "worst": 0.0,
            "worst_class": "c",
            "std": np.std([0.75, 0.5, 0.0]),
            "gap": 0.75,
        }
    )
    report = attack_report(flags, labels, ["a", "b", "c", "d"])
    assert report["per_class"]["d"] == {"accuracy": None, "n": 0}
    assert report["overall"] == pytest.approx(4 / 7)


def test_attack_names():
    for name in ("clean", "fgsm", "pgd20", "pgd100"):
        check_attack_name(name)
    for bad in ("pgd", "pgd0", "autoattack", "PGD20"):
        with pytest.raises(ValueError, match=rf"evaluation\.attacks: '{bad}' is not allowed"):
            check_attack_name(bad)


def test_eps_parsing_and_labels():
    assert parse_eps("8/255") == pytest.approx(8 / 255)
    assert parse_eps("8_255") == parse_eps("8/255")
    assert parse_eps(0.031) == 0.031
    assert format_eps(8 / 255) == "8/255" and format_eps(0.031) == "0.031"
    assert eps_tag("8/255") == "8_255" and eps_tag("0.1") == "0.1"
    for bad in ("eight", "2", -0.1):
        with pytest.raises(ValueError, match="eps"):
            parse_eps(bad)


def test_suite_flags_and_ordering(trained, digits):
    x = torch.from_numpy(digits.x_test)
    y = torch.from_numpy(digits.y_test)
    flags, reports = evaluate_model(
        trained,
        x,
        y,
        attacks=("clean", "fgsm", "pgd10"),
        eps=0.1,
        clamp=True,
        class_names=digits.class_names,
        batch_size=100,
        seed=0,
        to_float=to_float,
        autocast=torch.enable_grad,
        progress=False,
    )
    assert all(f.shape == y.shape and f.dtype == bool for f in flags.values())
    assert reports["pgd10"]["average"] <= reports["fgsm"]["average"] <= reports["clean"]["average"]
    # batch size does not change the flags of deterministic attacks
    again, _ = evaluate_model(
        trained,
        x,
        y,
        attacks=("clean", "fgsm"),
        eps=0.1,
        clamp=True,
        class_names=digits.class_names,
        batch_size=37,
        seed=0,
        to_float=to_float,
        autocast=torch.enable_grad,
        progress=False,
    )
    assert np.array_equal(again["fgsm"], flags["fgsm"])


def test_evaluate_checkpoint_writes_a_consistent_report(digits, tiny_run, tmp_path):
    run = tiny_run("natural", epochs=1)
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    flags, result = evaluate_checkpoint(run, digits, tmp_path / "last.pt", progress=False)
    assert set(flags) == set(run.evaluation.attacks)
    assert result["checkpoint_epoch"] == 1 and result["n_test"] == len(digits.y_test)
    clean = result["attacks"]["clean"]
    assert clean["overall"] == pytest.approx(flags["clean"].mean())
    assert sum(c["n"] for c in clean["per_class"].values()) == len(digits.y_test)


def hand_made_results():
    """Two seeds of one method, two classes, one attack: accuracies chosen by hand."""
    out = []
    for seed, (a, b) in enumerate([(0.8, 0.4), (0.6, 0.6)]):
        out.append(
            {
                "dataset": "toy",
                "model": "linear",
                "method": "pgd_at",
                "eps": "8/255",
                "seed": seed,
                "checkpoint": "last",
                "class_names": ["cat", "dog"],
                "attacks": {
                    "pgd20": {
                        "per_class": {
                            "cat": {"accuracy": a, "n": 10},
                            "dog": {"accuracy": b, "n": 5},
                        }
                    }
                },
            }
        )
    return out


def test_classwise_rows_and_summary_on_hand_made_numbers():
    rows = [r for res in hand_made_results() for r in classwise_rows(res)]
    table = pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)
    assert list(table.columns) == CLASSWISE_COLUMNS and len(table) == 4
    summary = summary_table(table)
    assert len(summary) == 1
    row = summary.iloc[0]
    # seed 0: avg 0.6, worst 0.4; seed 1: avg 0.6, worst 0.6
    assert row["n_seeds"] == 2
    assert row["average_mean"] == pytest.approx(0.6) and row["average_std"] == pytest.approx(0.0)
    assert row["worst_mean"] == pytest.approx(0.5)
    assert row["worst_std"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    md = summary_markdown(summary)
    assert "| pgd_at | 60.00 ± 0.00 | 50.00 ± 14.14 |" in md
    tex = summary_latex(summary)
    assert r"\toprule" in tex and r"50.00 $\pm$ 14.14" in tex and r"pgd\_at" in tex


def test_classwise_rows_from_json_round_trip(tmp_path):
    path = tmp_path / "last.json"
    path.write_text(json.dumps(hand_made_results()[0]))
    from fairat.tables import classwise_table

    table = classwise_table([path])
    assert table["class"].tolist() == ["cat", "dog"]
    assert table["n"].tolist() == [10, 5]
