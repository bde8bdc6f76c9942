"""Evaluation: flags to class-wise metrics on hand-made examples, the attack suite, the tables."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import squeeze
from scipy.stats import t as scipy_t

from fairat.config.attack_names import WORST_CASE, attack_eps, attack_steps, check_attack_name
from fairat.config.eps import eps_tag, format_eps, parse_eps
from fairat.config.runs import EvalConfig
from fairat.data import to_float
from fairat.evaluation.evaluate import evaluate_checkpoint, sanity_checks, weights_digest
from fairat.evaluation.metrics import attack_report, per_class_accuracy, summarize
from fairat.evaluation.suite import (
    Attack,
    EvalStore,
    evaluate_model,
    run_suite,
    subset_indices,
    worst_case,
)
from fairat.reporting.classwise import CLASSWISE_COLUMNS, classwise_rows
from fairat.reporting.summary import paired_table, summary_table
from fairat.reporting.summary_text import summary_latex, summary_markdown
from fairat.training.loop import train


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
    for name in ("clean", "fgsm", "pgd20", "pgd100", "cw30", "autoattack"):
        check_attack_name(name)
    for bad in ("pgd", "pgd0", "cw", "aa", "PGD20"):
        with pytest.raises(ValueError, match=rf"evaluation\.attacks: '{bad}' is not allowed"):
            check_attack_name(bad)
    # the sanity checks expect more steps of the same attack to do no better
    steps = {n: attack_steps(n) for n in ("clean", "fgsm", "pgd5", "pgd100", "cw30", "autoattack")}
    assert steps == {"clean": 0, "fgsm": 0, "pgd5": 5, "pgd100": 100, "cw30": 30, "autoattack": 0}
    assert attack_steps("pgd40@2/255") == 40


def test_attacks_at_their_own_radius():
    """``pgd40@2/255``: an evaluation-only radius (paper 003's, config/label_aug_cifar10.yaml)."""
    for name in ("pgd40@2/255", "cw30@0.01", "fgsm@1/255", "pgd40@2_255"):
        check_attack_name(name)
    assert attack_eps("pgd40@2/255", 8 / 255) == pytest.approx(2 / 255)
    assert attack_eps("pgd40", 8 / 255) == pytest.approx(8 / 255)
    for bad in ("clean@2/255", "autoattack@2/255", "pgd40@", "pgd@2/255"):
        with pytest.raises(ValueError, match=rf"evaluation\.attacks: '{bad}' is not allowed"):
            check_attack_name(bad)
    with pytest.raises(ValueError, match=r"'pgd40@300': eps: '300' gives 300\.0, outside"):
        check_attack_name("pgd40@300")
    with pytest.raises(ValueError, match=r"'pgd40@x': eps: 'x' is not a number"):
        EvalConfig(attacks=("clean", "pgd40@x"))
    # worst_case is taken at the run's eps only
    cfg = EvalConfig(attacks=("clean", "pgd20", "pgd40@2/255", "cw30"))
    assert cfg.worst_case_attacks == ("clean", "pgd20", "cw30")


def test_an_attack_at_its_own_radius_runs_at_that_radius(trained, digits):
    """pgd10@0 is clean accuracy, pgd10@r equals pgd10 run at eps r, whatever the run's eps."""
    x = torch.from_numpy(digits.x_test[:300])
    y = torch.from_numpy(digits.y_test[:300])
    common = dict(
        clamp=True,
        class_names=digits.class_names,
        batch_size=100,
        seed=0,
        to_float=to_float,
        progress=False,
    )
    flags, _ = evaluate_model(
        trained, x, y, attacks=("clean", "pgd10", "pgd10@0", "pgd10@0.05"), eps=0.3, **common
    )
    small, _ = evaluate_model(trained, x, y, attacks=("pgd10",), eps=0.05, **common)
    assert np.array_equal(flags["pgd10@0"], flags["clean"])
    assert np.array_equal(flags["pgd10@0.05"], small["pgd10"])
    assert flags["pgd10"].mean() < flags["pgd10@0.05"].mean()  # 0.3 is the stronger radius


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
        progress=False,
    )
    assert all(f.shape == y.shape and set(np.unique(f)) <= {0, 1} for f in flags.values())
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
        progress=False,
    )
    assert np.array_equal(again["fgsm"], flags["fgsm"])


def test_evaluate_checkpoint_writes_a_consistent_report(digits, tiny_run, tmp_path):
    run = tiny_run("natural", epochs=1)
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    flags, result = evaluate_checkpoint(run, digits, tmp_path / "last.pt", progress=False)
    assert set(flags) == {*run.evaluation.attacks, WORST_CASE}
    assert "sanity" in result
    assert result["checkpoint_epoch"] == 1 and result["n_test"] == len(digits.y_test)
    clean = result["attacks"]["clean"]
    assert clean["overall"] == pytest.approx(flags["clean"].mean())
    assert sum(c["n"] for c in clean["per_class"].values()) == len(digits.y_test)


def test_autoattack_runs_selects_the_checkpoints_autoattack_runs_on(
    digits, tiny_run, tmp_path, monkeypatch
):
    import fairat.attacks.autoattack as aa

    calls = []

    def fake_autoattack(model, x, y, **kwargs):  # stands in for the 12 s of AutoAttack
        calls.append(len(y))
        return x, (y + 1) % 10  # every sample broken

    monkeypatch.setattr(aa, "autoattack_outputs", fake_autoattack)
    run = tiny_run("natural", epochs=1)
    evaluation = EvalConfig(
        attacks=("clean", "fgsm", "autoattack"),
        autoattack_per_class=2,
        autoattack_runs={"seeds": [0], "eps": ["0.1"], "checkpoints": ["last"]},
    )
    run = dataclasses.replace(run, evaluation=evaluation)
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    flags, result = evaluate_checkpoint(run, digits, tmp_path / "last.pt", progress=False)
    assert calls == [20] and (flags["autoattack"] >= 0).sum() == 20
    # AutoAttack ran on a subset of some checkpoints: its own row, never merged into worst_case,
    # so that worst_case means the same suite on the same samples for every checkpoint
    both = (flags["clean"] == 1) & (flags["fgsm"] == 1)
    assert np.array_equal(flags[WORST_CASE], both.astype(np.int8))
    assert result["worst_case_over"] == ["clean", "fgsm"]
    flags, result = evaluate_checkpoint(run, digits, tmp_path / "best.pt", progress=False)
    assert calls == [20] and set(flags) == {"clean", "fgsm", WORST_CASE}
    assert np.array_equal(flags[WORST_CASE], ((flags["clean"] == 1) & (flags["fgsm"] == 1)))
    assert set(result["attacks"]) == set(flags)
    other_seed = dataclasses.replace(run, seed=1)
    flags, _ = evaluate_checkpoint(other_seed, digits, tmp_path / "last.pt", progress=False)
    assert "autoattack" not in flags


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"seed": [0]}, "unknown key 'seed'"),
        ({"seeds": 0}, "evaluation.autoattack_runs.seeds: 0 is not allowed"),
        ({"checkpoints": ["final"]}, "evaluation.autoattack_runs.checkpoints: 'final'"),
        ({"eps": ["8/0"]}, "evaluation.autoattack_runs.eps"),
        ([0], "give a mapping"),
    ],
)
def test_autoattack_runs_errors_name_the_field(where, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        EvalConfig(autoattack_runs=where)


def test_autoattack_runs_matches_seed_eps_and_checkpoint():
    cfg = EvalConfig(suite="quick", autoattack_runs={"seeds": [1], "eps": ["8/255"]})
    assert cfg.attacks_for(seed=1, eps=8 / 255, checkpoint="best") == cfg.suite_attacks
    assert "autoattack" not in cfg.attacks_for(seed=0, eps=8 / 255, checkpoint="best")
    assert "autoattack" not in cfg.attacks_for(seed=1, eps=16 / 255, checkpoint="last")
    assert EvalConfig(suite="paper").attacks_for(seed=5, eps=0.5, checkpoint="best")[-1] == (
        "autoattack"
    )


def test_weights_digest_tells_identical_checkpoints_apart(digits, tiny_run, tmp_path):
    run = tiny_run("natural", epochs=1)  # one epoch: best.pt holds the final weights
    train(run, digits, tmp_path / "a", tmp_path / "resume", progress=False)
    train(dataclasses.replace(run, seed=1), digits, tmp_path / "b", tmp_path / "r", progress=False)
    last = weights_digest(tmp_path / "a" / "last.pt")
    assert weights_digest(tmp_path / "a" / "best.pt") == last
    assert weights_digest(tmp_path / "b" / "last.pt") != last


def hand_made_results():
    """Two seeds of one method, two classes, one attack: accuracies chosen by hand."""
    out = []
    for seed, (a, b) in enumerate([(0.8, 0.4), (0.6, 0.6)]):
        out.append(
            {
                "dataset": "toy",
                "model": "linear",
                "run": "pgd_at",
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
    md = squeeze(summary_markdown(summary))
    assert "| pgd_at | 60.00 ± 0.00 | 50.00 ± 14.14 |" in md
    tex = summary_latex(summary)
    assert r"\toprule" in tex and r"50.00 $\pm$ 14.14" in tex and r"pgd\_at" in tex


def test_summary_names_attacks_that_cover_a_subset():
    def row(attack, seed, cls, accuracy, n):
        return {
            "dataset": "digits",
            "model": "cnn_small",
            "run": "trades",
            "method": "trades",
            "eps": "16/255",
            "seed": seed,
            "checkpoint": "last",
            "attack": attack,
            "class": cls,
            "accuracy": accuracy,
            "n": n,
        }

    rows = [
        row(a, s, c, 0.5, n)
        for a in ("clean", "pgd20")
        for s in (0, 1)
        for c, n in (("0", 10), ("1", 5))
    ]
    rows += [row("autoattack", 0, c, 0.5, 3) for c in ("0", "1")]  # 3 per class, seed 0 only
    summary = summary_table(pd.DataFrame(rows, columns=CLASSWISE_COLUMNS))
    assert summary.set_index("attack")["n_samples"].to_dict() == {
        "clean": 15,
        "pgd20": 15,
        "autoattack": 6,
    }
    md = squeeze(summary_markdown(summary))
    assert "Subsets: `autoattack` on 6 of 15 test samples, 1 of 2 seeds.\n" in md
    assert md.count("Subsets:") == 1
    full = summary[summary["attack"] != "autoattack"]
    assert "Subsets:" not in summary_markdown(full)


def test_classwise_rows_from_json_round_trip(tmp_path):
    path = tmp_path / "last.json"
    path.write_text(json.dumps(hand_made_results()[0]))
    from fairat.reporting.classwise import classwise_table

    table = classwise_table([path])
    assert table["class"].tolist() == ["cat", "dog"]
    assert table["n"].tolist() == [10, 5]


def test_worst_case_is_the_and_of_the_attacks_that_evaluated_each_sample():
    flags = {
        "clean": np.array([1, 1, 1, 0, 1, 1, -1], dtype=np.int8),
        "pgd20": np.array([1, 0, 1, 0, 1, 0, -1], dtype=np.int8),
        # the last three samples are outside AutoAttack's subset
        "autoattack": np.array([1, 1, 0, 0, -1, -1, -1], dtype=np.int8),
    }
    assert worst_case(flags).tolist() == [1, 0, 0, 0, 1, 0, -1]


def test_suite_with_autoattack_and_worst_case_on_a_trained_model(trained, digits):
    x = torch.from_numpy(digits.x_test)
    y = torch.from_numpy(digits.y_test)
    flags, reports = evaluate_model(
        trained,
        x,
        y,
        attacks=("clean", "fgsm", "pgd10", "cw10", "autoattack"),
        eps=0.1,
        clamp=True,
        class_names=digits.class_names,
        batch_size=256,
        seed=0,
        to_float=to_float,
        progress=False,
        autoattack_per_class=3,
    )
    aa = flags["autoattack"]
    assert (aa >= 0).sum() == 30 and (aa == -1).sum() == len(y) - 30  # fixed 3-per-class subset
    assert reports["autoattack"]["per_class"]["0"]["n"] == 3
    assert (flags[WORST_CASE] >= 0).all()  # the worst case still covers the whole split
    subset = aa >= 0
    attacks = [f for name, f in flags.items() if name != WORST_CASE]
    assert np.array_equal(
        flags[WORST_CASE][subset] == 1, np.all([f[subset] == 1 for f in attacks], 0)
    )
    others = [flags[n][~subset] == 1 for n in ("clean", "fgsm", "pgd10", "cw10")]
    assert np.array_equal(flags[WORST_CASE][~subset] == 1, np.all(others, 0))
    for name in ("clean", "fgsm", "pgd10", "cw10", "autoattack"):
        evaluated = flags[name] >= 0
        # per point, hence also in accuracy on the samples the attack evaluated
        assert (flags[WORST_CASE][evaluated] <= flags[name][evaluated]).all(), name
    clean_on_subset = (flags["clean"][aa >= 0] == 1).mean()
    assert reports["autoattack"]["overall"] <= clean_on_subset
    assert reports["autoattack"]["overall"] < clean_on_subset  # it is a real attack


def test_restarts_never_raise_accuracy(trained, digits):
    x = torch.from_numpy(digits.x_test[:200])
    y = torch.from_numpy(digits.y_test[:200])
    acc = {}
    for restarts in (1, 3):
        f, _ = evaluate_model(
            trained,
            x,
            y,
            attacks=("pgd3",),
            eps=0.1,
            clamp=True,
            class_names=digits.class_names,
            batch_size=100,
            seed=0,
            to_float=to_float,
            progress=False,
            restarts=restarts,
        )
        acc[restarts] = f["pgd3"]
    assert np.all(acc[3] <= acc[1])  # restart 0 is the single run; more can only remove samples


def test_killed_evaluation_resumes_with_the_same_flags(trained, digits, tmp_path, monkeypatch):
    x = torch.from_numpy(digits.x_test)
    y = torch.from_numpy(digits.y_test)
    kwargs = dict(
        attacks=("clean", "pgd5"),
        eps=0.1,
        clamp=True,
        class_names=digits.class_names,
        batch_size=64,
        seed=3,
        to_float=to_float,
        progress=False,
    )
    straight = run_suite(trained, x, y, **kwargs)

    calls = {"n": 0}
    real = Attack.outputs

    def dies_on_the_12th_batch(self, *args):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt("killed")
        return real(self, *args)

    monkeypatch.setattr(Attack, "outputs", dies_on_the_12th_batch)
    path = tmp_path / "eval-state.pt"
    with pytest.raises(KeyboardInterrupt):
        evaluate_model(trained, x, y, store=EvalStore(path), **kwargs)
    monkeypatch.setattr(Attack, "outputs", real)
    store = EvalStore(path)
    assert len(store.done["clean"]) == 9 and len(store.done["pgd5"]) == 2  # 9 + 2 batches kept

    ran = {"n": 0}

    def counting(self, *args):
        ran["n"] += 1
        return real(self, *args)

    monkeypatch.setattr(Attack, "outputs", counting)
    resumed = run_suite(trained, x, y, store=store, **kwargs)
    assert ran["n"] == 9 - 2  # only the unfinished pgd5 batches ran again
    for name in straight.flags:
        assert np.array_equal(straight.flags[name], resumed.flags[name]), name
        assert np.array_equal(straight.preds[name], resumed.preds[name]), name
        assert straight.reports[name] == resumed.reports[name], name


def test_sanity_checks_flag_masking_signs():
    ones = np.ones(100, dtype=np.int8)
    flags = {
        "clean": np.r_[np.ones(90), np.zeros(10)].astype(np.int8),
        "fgsm": np.r_[np.ones(40), np.zeros(60)].astype(np.int8),
        "pgd20": np.r_[np.ones(60), np.zeros(40)].astype(np.int8),  # above FGSM: masking sign
        "pgd100": np.r_[np.ones(62), np.zeros(38)].astype(np.int8),  # more steps, higher
        "autoattack": np.r_[np.ones(30), np.zeros(70)].astype(np.int8),  # far below PGD
    }
    checks = sanity_checks(flags, tolerance=0.01, masking_gap=0.1)
    details = [c["detail"] for c in checks]
    assert any("pgd20 accuracy 0.6000 exceeds fgsm accuracy 0.4000" in d for d in details)
    assert any("pgd100 accuracy 0.6200 exceeds pgd20 accuracy 0.6000" in d for d in details)
    assert sum(c["check"] == "pgd_autoattack_gap" for c in checks) == 2
    healthy = {"clean": ones, "pgd20": np.r_[np.ones(50), np.zeros(50)].astype(np.int8)}
    assert sanity_checks(healthy, tolerance=0.01, masking_gap=0.1) == []
    # an attack at its own, smaller radius is above the run's attacks without a warning, and
    # is compared with clean and with attacks at its radius
    smaller = {
        "clean": ones,
        "pgd20": np.r_[np.ones(50), np.zeros(50)].astype(np.int8),
        "pgd40@2/255": np.r_[np.ones(80), np.zeros(20)].astype(np.int8),
        "autoattack": np.r_[np.ones(45), np.zeros(55)].astype(np.int8),
    }
    assert sanity_checks(smaller, tolerance=0.01, masking_gap=0.1) == []
    smaller["pgd100@2/255"] = np.r_[np.ones(90), np.zeros(10)].astype(np.int8)
    details = [c["detail"] for c in sanity_checks(smaller, tolerance=0.01, masking_gap=0.1)]
    assert details == ["pgd100@2/255 accuracy 0.9000 exceeds pgd40@2/255 accuracy 0.8000"]
    above = {"clean": np.zeros(100, dtype=np.int8), "fgsm": ones}
    assert [c["check"] for c in sanity_checks(above, tolerance=0.01, masking_gap=0.1)] == [
        "above_clean"
    ]


def test_subset_indices_take_the_first_per_class():
    y = np.array([2, 0, 1, 0, 2, 0, 1])
    assert subset_indices(y, 2).tolist() == [0, 1, 2, 3, 4, 6]
    assert subset_indices(y, None).tolist() == list(range(7))


def test_summary_rho_and_paired_against_trades():
    rows = []
    # per seed: (method, class accuracies clean, class accuracies robust)
    for seed, shift in enumerate((0.0, 0.02)):
        for method, clean, robust in (
            ("trades", (0.8, 0.6), (0.5, 0.2)),
            ("dafa", (0.8, 0.7), (0.5, 0.3)),
        ):
            for attack, accs in (("clean", clean), ("worst_case", robust)):
                for cls, acc in zip(("a", "b"), accs, strict=True):
                    rows.append(
                        dict(
                            dataset="d",
                            model="m",
                            run=method,
                            method=method,
                            eps="8/255",
                            seed=seed,
                            checkpoint="last",
                            attack=attack,
                            **{"class": cls},
                            accuracy=acc + (shift if method == "dafa" else 0),
                            n=10,
                        )
                    )
    classwise = pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)
    summary = summary_table(classwise)
    dafa = summary[(summary["run"] == "dafa") & (summary["attack"] == "clean")].iloc[0]
    # clean: dafa avg 0.76 (mean of 0.75, 0.77), worst 0.71; trades avg 0.7, worst 0.6
    assert dafa["rho_nat"] == pytest.approx((0.71 - 0.6) / 0.6 + (0.76 - 0.7) / 0.7)
    # robust (worst_case): dafa avg 0.41, worst 0.31; trades 0.35, 0.2
    assert dafa["rho_rob"] == pytest.approx((0.31 - 0.2) / 0.2 + (0.41 - 0.35) / 0.35)
    trades = summary[summary["run"] == "trades"]
    assert np.allclose(trades["rho_nat"], 0) and np.allclose(trades["rho_rob"], 0)
    paired = paired_table(classwise)
    worst = paired[(paired["attack"] == "worst_case") & (paired["metric"] == "worst")].iloc[0]
    assert worst["run"] == "dafa" and worst["n_pairs"] == 2
    assert worst["mean_diff"] == pytest.approx(0.11)
    md = squeeze(summary_markdown(summary, paired))
    # the headline table first: clean and robust, mean ± 95 % CI half-width over the two seeds
    head = (
        "| run | clean avg | clean worst | robust avg | robust worst "
        "| robust worst [95% seeds+samples] | rho_nat | rho_rob |"
    )
    assert md.index(head) < md.index("Per attack")
    half = scipy_t.ppf(0.975, 1) * np.std([0.3, 0.32], ddof=1) / np.sqrt(2) * 100
    assert f"| dafa | 76.00 ± {half:.2f} | 71.00 ± {half:.2f} | 41.00 ± {half:.2f} |" in md
    assert "| rho_nat | rho_rob | baseline (seeds) | sanity |" in md
    assert "| 41.00 ± 1.41 | 31.00 ± 1.41 | 0.27 | 0.72 | trades (2) | 0 |" in md  # dafa's row
    assert "| dafa | trades | 2 | 11.00 |" in md  # paired worst-class difference in points


def test_summary_leaves_out_attacks_a_block_did_not_run_and_never_prints_nan():
    def rows(checkpoint, attacks):
        return [
            {
                "dataset": "d",
                "model": "m",
                "run": "trades",
                "method": "trades",
                "eps": "8/255",
                "seed": 0,
                "checkpoint": checkpoint,
                "attack": attack,
                "class": c,
                "accuracy": 0.5,
                "n": 10,
            }
            for attack in attacks
            for c in ("a", "b")
        ]

    table = pd.DataFrame(
        rows("last", ["clean", "autoattack"]) + rows("best", ["clean"]), columns=CLASSWISE_COLUMNS
    )
    md = squeeze(summary_markdown(summary_table(table)))
    best = md[md.index("checkpoint best") :]
    assert "autoattack avg" not in best and "Not run on these checkpoints: `autoattack`" in best
    assert "autoattack avg" in md[: md.index("checkpoint best")]
    assert "nan" not in md
