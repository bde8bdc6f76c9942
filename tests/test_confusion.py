"""Where attacked samples go: predicted labels per attack, confusion counts, class similarity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fairat.config.attack_names import WORST_CASE
from fairat.data import to_float
from fairat.evaluation.metrics import per_class_accuracy
from fairat.evaluation.suite import (
    Attack,
    class_similarity,
    confusion_counts,
    flags_from,
    run_suite,
    worst_case,
    worst_case_prediction,
)


def test_confusion_counts_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 1, -1, 1, 2, 0])  # sample 2 not evaluated
    counts = confusion_counts(pred, labels, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 1], [1, 0, 0]]
    acc, n = per_class_accuracy(flags_from(pred, labels), labels, 3)
    assert np.allclose(np.diag(counts) / counts.sum(axis=1), acc)
    assert counts.sum(axis=1).tolist() == n.tolist()


def test_flags_from_predictions():
    labels = np.array([3, 1, 2])
    assert flags_from(np.array([3, 0, -1]), labels).tolist() == [1, 0, -1]


def test_class_similarity_is_the_mean_softmax_of_each_true_class():
    labels = np.array([0, 0, 1, 2])
    probs = np.array(
        [[0.8, 0.2, 0.0], [0.4, 0.4, 0.2], [0.1, 0.6, 0.3], [np.nan, np.nan, np.nan]],
        dtype=np.float32,
    )
    sim = class_similarity(probs, labels, 3)
    assert np.allclose(sim[0], [0.6, 0.3, 0.1])
    assert np.allclose(sim[1], [0.1, 0.6, 0.3])
    assert np.isnan(sim[2]).all()  # class 2's one sample was not evaluated


def test_worst_case_prediction_agrees_with_the_worst_case_flags():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 500)
    preds = {}
    for name, p_eval in (("clean", 1.0), ("pgd", 1.0), ("autoattack", 0.3)):
        pred = np.where(rng.random(500) < 0.6, labels, rng.integers(0, 4, 500))
        preds[name] = np.where(rng.random(500) < p_eval, pred, -1)
    preds["clean"][:5] = -1
    preds["pgd"][:5] = -1
    preds["autoattack"][:5] = -1  # no attack evaluated samples 0-4
    out = worst_case_prediction(preds, labels)
    flags = {a: flags_from(p, labels) for a, p in preds.items()}
    assert np.array_equal(flags_from(out, labels), worst_case(flags))
    assert (out[:5] == -1).all()
    # a sample fooled by several attacks ends at the label of the last (strongest) of them
    both = (preds["pgd"] != labels) & (preds["autoattack"] >= 0) & (preds["autoattack"] != labels)
    assert both.any() and np.array_equal(out[both], preds["autoattack"][both])
    only_pgd = (preds["pgd"] >= 0) & (preds["pgd"] != labels) & (preds["autoattack"] < 0)
    assert only_pgd.any() and np.array_equal(out[only_pgd], preds["pgd"][only_pgd])


def _suite(trained, digits, attacks, **extra):
    x, y = torch.from_numpy(digits.x_test), torch.from_numpy(digits.y_test)
    return run_suite(
        trained,
        x,
        y,
        attacks=attacks,
        eps=0.1,
        clamp=True,
        class_names=digits.class_names,
        batch_size=64,
        seed=0,
        to_float=to_float,
        progress=False,
        **extra,
    )


def test_reports_carry_confusion_and_similarity_consistent_with_the_flags(trained, digits):
    out = _suite(trained, digits, ("clean", "fgsm", "pgd5"))
    labels = digits.y_test
    k = digits.num_classes
    assert set(out.preds) == {"clean", "fgsm", "pgd5", WORST_CASE}
    for name, report in out.reports.items():
        counts = np.array(report["confusion"])
        assert counts.shape == (k, k) and counts.sum() == len(labels), name
        # the diagonal over the row sums is the report's class-wise accuracy
        acc = [report["per_class"][c]["accuracy"] for c in digits.class_names]
        assert np.allclose(np.diag(counts) / counts.sum(axis=1), acc), name
        assert np.array_equal(out.flags[name], flags_from(out.preds[name], labels)), name
        if name == WORST_CASE:
            assert report["similarity"] is None
            continue
        sim = np.array(report["similarity"], dtype=float)
        assert sim.shape == (k, k) and np.allclose(sim.sum(axis=1), 1.0, atol=1e-4), name
    # attacks move probability off the true class: the diagonal of P drops under PGD
    clean = np.diag(np.array(out.reports["clean"]["similarity"], dtype=float))
    pgd = np.diag(np.array(out.reports["pgd5"]["similarity"], dtype=float))
    assert pgd.mean() < clean.mean()
    # clean predictions are the model's argmax on the clean inputs
    with torch.no_grad():
        argmax = trained(to_float(torch.from_numpy(digits.x_test))).argmax(1).numpy()
    assert np.array_equal(out.preds["clean"], argmax)


def test_restarts_keep_the_first_restart_that_fooled_each_sample(trained, digits):
    """With restarts, a sample's label is that of the first restart that fooled it (the last
    restart's if none did), so its flag is 'survives every restart'."""
    from fairat.attacks import perturb

    x = to_float(torch.from_numpy(digits.x_test[:128]))
    y = torch.from_numpy(digits.y_test[:128])
    eps, seed = 0.15, 5
    attack = Attack("pgd3", eps, True, digits.num_classes, restarts=3)
    pred, probs = attack.outputs(trained, x, y, seed=seed)
    each = []
    for r in range(3):
        g = torch.Generator().manual_seed(seed * 7919 + r)
        x_r = perturb(
            trained,
            x,
            y,
            eps=eps,
            step_size=eps / 4,
            steps=3,
            loss="ce",
            random_start="uniform",
            generator=g,
            clamp=True,
        )
        with torch.no_grad():
            each.append(trained(x_r).argmax(1))
    each = torch.stack(each)
    fooled = each != y
    assert fooled.any(0).sum() > fooled[0].sum()  # later restarts fool samples the first did not
    first = torch.where(fooled.any(0), fooled.int().argmax(0), torch.full_like(y, 2))
    assert torch.equal(pred, each[first, torch.arange(len(y))])
    assert torch.equal(pred == y, ~fooled.any(0))
    assert torch.allclose(probs.sum(1), torch.ones(len(y)), atol=1e-5)
    assert torch.equal(pred, probs.argmax(1))


@pytest.mark.parametrize("per_class", [2])
def test_autoattack_labels_are_the_models_labels_at_its_inputs(trained, digits, per_class):
    """Through pyautoattack itself: the labels it returns are the model's on the inputs it
    returns, and those lie in the eps-ball and [0, 1]."""
    from fairat.attacks.autoattack import autoattack_outputs

    x = to_float(torch.from_numpy(digits.x_test[:20]))
    y = torch.from_numpy(digits.y_test[:20])
    x_adv, pred = autoattack_outputs(trained, x, y, eps=0.1, num_classes=10, seed=0)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        assert torch.equal(pred, trained(x_adv).argmax(1))
    out = _suite(trained, digits, ("clean", "autoattack"), autoattack_per_class=per_class)
    evaluated = out.preds["autoattack"] >= 0
    assert evaluated.sum() == per_class * digits.num_classes
    assert np.array(out.reports["autoattack"]["confusion"]).sum() == evaluated.sum()


def _confusion_rows(runs: list[str], k: int, seeds: int = 2) -> pd.DataFrame:

    rng = np.random.default_rng(1)
    rows = []
    for run in runs:
        for seed in range(seeds):
            counts = rng.integers(0, 5, (k, k)) + np.eye(k, dtype=int) * 20
            for i in range(k):
                for j in range(k):
                    rows.append(
                        {
                            "dataset": "d",
                            "model": "m",
                            "run": run,
                            "method": run,
                            "eps": "8/255",
                            "seed": seed,
                            "checkpoint": "last",
                            "attack": "worst_case",
                            "true_class": f"c{i}",
                            "predicted_class": f"c{j}",
                            "count": int(counts[i, j]),
                        }
                    )
    return pd.DataFrame(rows)


def test_row_normalised_and_lost_to_by_hand():

    from fairat.evaluation.confusion import lost_to, row_normalised

    block = pd.DataFrame(
        {
            "true_class": ["a", "a", "b", "b", "a", "b"],
            "predicted_class": ["a", "b", "a", "b", "a", "b"],
            "count": [3, 1, 0, 2, 1, 0],  # the last two rows: a second seed
        }
    )
    m = row_normalised(block, ["a", "b"])
    assert np.allclose(m.to_numpy(), [[0.8, 0.2], [0.0, 1.0]])
    lost = lost_to(m)
    assert lost["to_class"].tolist() == ["b", ""]
    assert np.allclose(lost["lost"], [0.2, 0.0]) and np.allclose(lost["to_share"], [0.2, 0.0])


def test_confusion_tables_from_evaluation_jsons(trained, digits, tmp_path):
    import json

    from fairat.evaluation.confusion import confusion_tables

    out = _suite(trained, digits, ("clean", "pgd5"))
    ident = {
        "dataset": "digits",
        "model": "cnn_small",
        "run": "natural",
        "method": "natural",
        "eps": "0.1",
        "seed": 0,
        "checkpoint": "last",
    }
    path = tmp_path / "last.json"
    path.write_text(
        json.dumps({**ident, "class_names": digits.class_names, "attacks": out.reports})
    )
    confusion, similarity = confusion_tables([path])
    k = digits.num_classes
    assert len(confusion) == 3 * k * k and len(similarity) == 2 * k * k  # no worst_case P
    totals = confusion.groupby("attack")["count"].sum()
    assert (totals == len(digits.y_test)).all()
    pgd = confusion[confusion["attack"] == "pgd5"]
    assert np.array_equal(
        pgd["count"].to_numpy().reshape(k, k), np.array(out.reports["pgd5"]["confusion"])
    )


@pytest.mark.parametrize(("runs", "k"), [(13, 10), (2, 100)])
def test_confusion_figure_draws_many_runs_and_many_classes(tmp_path, runs, k):
    from fairat.reporting.confusion_figures import plot_confusion_block

    rows = _confusion_rows([f"run{i}" for i in range(runs)], k, seeds=1 if k > 10 else 2)
    outs = [tmp_path / "c.png", tmp_path / "c.pdf"]
    plot_confusion_block(rows, outs, attack="worst_case", title="d / m / eps 8/255")
    assert outs[0].stat().st_size > 10_000 and outs[1].exists()
